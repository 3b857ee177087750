// The web UI in a real browser: Debian's chromium, driven by npm playwright-core, against the
// real binary (`sluice serve --workers 1` on embedded defaults) and a loopback origin serving the
// bundled sample media, with sluice-fake-provider as the model server of the video pipeline.
// Submits a list from the form (pipeline "video"), watches the job finish, opens the gallery,
// filters it, opens the video and plays it and the clip the pipeline cut, opens an image with its
// text boxes, asks for "more like this" and reads the ledger. Screenshots of each page land in
// --artifacts.
//
//   node ui_browser_test.mjs --sluice BIN --fake-provider BIN --modules DIR/node_modules
//        --artifacts DIR [--chromium PATH]
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, existsSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, extname } from "node:path";

function option(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? process.argv[at + 1] : fallback;
}
const sluice = option("sluice");
const fakeProvider = option("fake-provider");
const modules = option("modules");
const artifacts = option("artifacts", "ui-screenshots");
const chromiumPath = option("chromium", "/usr/bin/chromium");
for (const [name, path] of [["--sluice", sluice], ["--fake-provider", fakeProvider], ["--modules", modules], ["--chromium", chromiumPath]]) {
  if (!path || !existsSync(path)) {
    console.error(`${name} ${path}: not found (scripts/test-servers.sh installs playwright-core; scripts/install-deps.sh chromium)`);
    process.exit(1);
  }
}
const { chromium } = createRequire(join(modules, "x.js"))("playwright-core");

const work = mkdtempSync(join(tmpdir(), "sluice-ui-"));
const data = join(work, "data");
mkdirSync(artifacts, { recursive: true });
const children = [];
let failures = 0;

function check(condition, what) {
  if (condition) {
    console.log(`ok: ${what}`);
  } else {
    failures++;
    console.error(`FAILED: ${what}`);
  }
}

function cleanup() {
  for (const child of children) child.kill("SIGTERM");
  rmSync(work, { recursive: true, force: true });
}

// The bundled samples and an analysed set "demo" (so the index has neighbours to find).
const demo = spawnSync(sluice, ["demo", "--data", data, "--progress", "none"], { encoding: "utf8" });
if (demo.status !== 0) {
  console.error(`sluice demo failed (${demo.status}):\n${demo.stderr}`);
  cleanup();
  process.exit(1);
}

// The origin: the sample files over HTTP on loopback; anything else is a 404.
const types = { ".jpg": "image/jpeg", ".png": "image/png", ".gif": "image/gif", ".mp4": "video/mp4" };
const origin = createServer((request, response) => {
  const file = join(data, "samples", decodeURIComponent(new URL(request.url, "http://x").pathname).replace(/^\/+/, ""));
  if (!file.startsWith(join(data, "samples")) || !existsSync(file)) {
    response.writeHead(404).end("not found");
    return;
  }
  const body = readFileSync(file);
  response.writeHead(200, { "Content-Type": types[extname(file)] || "application/octet-stream", "Content-Length": body.length });
  response.end(body);
});
await new Promise((resolve) => origin.listen(0, "127.0.0.1", resolve));
const originUrl = `http://127.0.0.1:${origin.address().port}`;

// The model server: it chooses the whole 6 s spot as the one clip.
const provider = spawn(fakeProvider, ["--answer", "clips",
  JSON.stringify({ clips: [{ start: 0, end: 6, title: "the whole spot", reason: "all of it", score: 0.9 }] })],
{ stdio: ["ignore", "pipe", "ignore"] });
children.push(provider);
const providerUrl = await new Promise((resolve, reject) => {
  let text = "";
  provider.stdout.on("data", (chunk) => {
    text += chunk;
    if (text.includes("\n")) resolve(text.trim());
  });
  provider.on("exit", (code) => reject(new Error(`sluice-fake-provider exited ${code}`)));
});
const config = join(work, "sluice.toml");
writeFileSync(config, `[providers]\ndefault = "fake"\n[providers.fake]\nbase_url = "${providerUrl}/"\nchat_model = "fake-chat"\n`);

// The service: API, UI and one worker in one process.
const serve = spawn(sluice, ["serve", "--data", data, "--listen", "127.0.0.1:0", "--no-auth", "--workers", "1",
  "--poll", "0.2", "--allow-private", "--config", config], { stdio: ["ignore", "ignore", "pipe"] });
children.push(serve);
let serveLog = "";
const base = await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error(`sluice serve did not start:\n${serveLog}`)), 60000);
  serve.stderr.on("data", (chunk) => {
    serveLog += chunk;
    const found = serveLog.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
    if (found) {
      clearTimeout(timer);
      resolve(found[1]);
    }
  });
  serve.on("exit", (code) => reject(new Error(`sluice serve exited ${code}:\n${serveLog}`)));
});

const browser = await chromium.launch({ executablePath: chromiumPath, args: ["--no-sandbox", "--autoplay-policy=no-user-gesture-required"] });
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
const pageErrors = [];
page.on("pageerror", (error) => pageErrors.push(error.message));
const shot = (name) => page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });

// Plays a <video> from the start and waits for its clock to pass 0.5 s. play()'s promise is not
// awaited: it stays pending while the media pipeline waits for data, and page.evaluate has no
// timeout of its own. One more play() after a stall; a failure reports the element's state.
async function plays(selector, what) {
  const start = (s) => { const v = document.querySelector(s); v.muted = true; v.currentTime = 0; v.play().catch(() => {}); };
  const moving = (s) => document.querySelector(s).currentTime > 0.5;
  for (let attempt = 1; attempt <= 2; attempt++) {
    await page.evaluate(start, selector);
    try {
      await page.waitForFunction(moving, selector, { timeout: 45000 });
      check(true, what);
      return;
    } catch (error) {
      const state = await page.evaluate((s) => {
        const v = document.querySelector(s);
        return { readyState: v.readyState, networkState: v.networkState, paused: v.paused, currentTime: v.currentTime, error: v.error?.message };
      }, selector);
      if (attempt === 2) check(false, `${what}: still ${JSON.stringify(state)}`);
      else console.log(`${what}: stalled at ${JSON.stringify(state)}; playing again`);
    }
  }
}

// ctest kills a hung run without a word; this says where it stood and what the server said.
const watchdog = setTimeout(async () => {
  console.error(`FAILED: no end after 360 s; sluice serve said:\n${serveLog}`);
  await shot("watchdog").catch(() => {});
  cleanup();
  process.exit(1);
}, 360000);

try {
  // Submit a list from the form.
  await page.goto(`${base}/`);
  await page.waitForSelector("#jobs");
  await page.click('a[href="#/submit"]');
  await page.fill('input[name="set"]', "browser");
  const urls = ["ad-coffee.jpg", "ad-summer-sale.jpg", "ad-summer-sale-copy.jpg", "video-ad-speech.mp4", "missing.jpg"];
  await page.fill('textarea[name="urls"]', urls.map((u) => `${originUrl}/${u}`).join("\n"));
  await page.selectOption('select[name="pipeline"]', "video");
  await shot("1-submit");
  await page.click('#submit-form button[type="submit"]');
  await page.waitForURL(/#\/jobs\/[0-9a-z]+/);
  check(true, "the form submitted a job and opened its page");

  // Watch it finish.
  await page.waitForFunction(() => document.querySelector("#job-state")?.textContent === "done", null, { timeout: 180000 });
  const progress = await page.textContent("main");
  check(/4 ok, 1 failed of 5 URLs/.test(progress), `the job page shows the progress (${progress.match(/\d+ ok, \d+ failed of \d+ URLs/)})`);
  check(/http_404: 1/.test(progress), "failures by cause");
  await shot("2-job-done");

  // The job list shows it.
  await page.goto(`${base}/ui/#/jobs`);
  await page.waitForSelector('#jobs tr[data-state="done"]');
  check(true, "the job list shows the finished job");

  // The gallery.
  await page.click('a[href="#/sets/browser"]');
  await page.waitForFunction(() => document.querySelectorAll("#gallery .card").length === 5);
  await page.waitForFunction(() => [...document.querySelectorAll("#gallery img")].every((img) => img.complete && img.naturalWidth > 0));
  check(true, "the gallery shows 5 items with their thumbnails");
  await shot("3-gallery");

  // Filters: failed items with their cause; words read in the pictures.
  await page.selectOption("#filter-status", "failed");
  await page.waitForFunction(() => location.hash.includes("status=failed") && document.querySelectorAll("#gallery .card").length === 1);
  check((await page.textContent("#gallery")).includes("http_404"), "the failed filter shows the failure's cause");
  await page.selectOption("#filter-status", "");
  await page.fill("#filter-text", "coffee");
  await page.waitForFunction(() => location.hash.includes("q=coffee") && document.querySelectorAll("#gallery .card").length === 1);
  check((await page.textContent("#gallery")).includes("ad-coffee.jpg"), "the text filter finds the picture that says COFFEE");
  await page.fill("#filter-text", "");
  await page.selectOption("#filter-kind", "video");
  await page.waitForFunction(() => location.hash.includes("kind=video") && document.querySelectorAll("#gallery .card").length === 1);
  await shot("4-gallery-videos");

  // A video: player, shot timeline, transcript lines that seek, playback.
  await page.click("#gallery .card");
  await page.waitForSelector("#player");
  await page.waitForFunction(() => document.querySelector("#player").readyState >= 1, null, { timeout: 30000 });
  const shots = await page.$$(".timeline .seg");
  check(shots.length === 3, `the shot timeline has 3 shots (${shots.length})`);
  const lines = await page.$$("#transcript p");
  check(lines.length >= 1, `the transcript has lines (${lines.length})`);
  await lines[lines.length - 1].click();
  const seekTo = Number(await lines[lines.length - 1].getAttribute("data-start"));
  await page.waitForFunction((at) => Math.abs(document.querySelector("#player").currentTime - at) < 1.5, seekTo);
  check(true, `a transcript line seeks the player to ${seekTo} s`);
  await plays("#player", "the video plays");
  // The clip the pipeline cut (chosen by the model, snapped to the shots), with its poster.
  const clips = await page.$$("#clips video");
  check(clips.length === 1, `the clip is listed (${clips.length})`);
  check((await page.textContent("#clips")).includes("the whole spot"), "with its title");
  await plays("#clips video", "the clip plays");
  await shot("5-video");

  // An image: its text boxes drawn over it, then look-alikes through the index.
  await page.goto(`${base}/ui/#/sets/browser?q=summer`);
  // The two pictures that say it and the video whose speech does.
  await page.waitForFunction(() => document.querySelectorAll("#gallery .card").length === 3);
  await page.click('#gallery .card[data-url$="ad-summer-sale.jpg"]');
  await page.waitForSelector("#picture");
  const boxes = await page.$$("svg rect.ocr");
  check(boxes.length >= 3, `the text boxes are drawn (${boxes.length})`);
  check((await page.textContent("#ocr-text")).includes("SUMMER SALE"), "the text read is shown");
  check((await page.textContent("main")).includes("Where it was found (4)"), "the item lists every set and URL holding it");
  await page.click("#more-like-this");
  await page.waitForFunction(() => document.querySelectorAll("#similar .card").length >= 1, null, { timeout: 30000 });
  const similar = await page.textContent("#similar");
  check(similar.includes("ad-summer-sale-small.jpg"), "more like this finds the resized copy");
  await shot("6-item-image");

  // The cost ledger.
  await page.goto(`${base}/ui/#/sets/browser/ledger`);
  await page.waitForSelector("table.ledger");
  const ledger = await page.textContent("main");
  check(ledger.includes("Cost ledger of browser") && ledger.includes("llm.clips"), "the ledger lists the provider's calls by method");
  await shot("7-ledger");

  // The demo set's gallery, as the README shows it.
  await page.goto(`${base}/ui/#/sets/demo`);
  await page.waitForFunction(() => document.querySelectorAll("#gallery .card").length === 9);
  await page.waitForFunction(() => [...document.querySelectorAll("#gallery img")].every((img) => img.complete && img.naturalWidth > 0));
  await page.setViewportSize({ width: 1280, height: 760 });
  await page.screenshot({ path: join(artifacts, "8-gallery-demo.png") });

  check(pageErrors.length === 0, `no script errors (${pageErrors.join("; ")})`);
} catch (error) {
  failures++;
  console.error(`FAILED: ${error.message}`);
  await shot("failure").catch(() => {});
  console.error(`sluice serve said:\n${serveLog}`);
} finally {
  clearTimeout(watchdog);
  await browser.close();
  origin.close();
  cleanup();
}
console.log(failures ? `${failures} check(s) failed; screenshots in ${artifacts}` : `all passed; screenshots in ${artifacts}`);
process.exit(failures ? 1 : 0);
