#!/usr/bin/python3
"""Generates sluice's scored quality corpus with its truth: ad creatives (OCR), near-duplicate
groups beside same-template look-alikes (near_duplicates), and videos of known shots, defects
and speech. Nothing is downloaded: ImageMagick, ffmpeg (lavfi) and espeak-ng draw everything
from a seed, so the same arguments always give the same corpus.

  make_corpus.py OUT [--creatives N] [--near-groups N] [--no-videos] [--seed S]

Writes OUT/truth.json: {"creatives": [...], "near": [...], "videos": [...]}, file paths
relative to OUT."""
import argparse
import concurrent.futures
import json
import os
import random
import subprocess
import sys

HEAVY_FONTS = [
    "DejaVu-Sans-Bold", "DejaVu-Sans-Condensed-Bold", "DejaVu-Serif-Bold", "Liberation-Sans-Bold",
    "Liberation-Sans-Narrow-Bold", "Liberation-Serif-Bold", "FreeSans-Bold", "FreeSerif-Bold",
    "Lato-Black", "Lato-Heavy", "Open-Sans-Extrabold", "Roboto-Black", "Roboto-Bold",
]
TEXT_FONTS = [
    "DejaVu-Sans", "Liberation-Sans", "Liberation-Serif", "FreeSans", "Lato-Regular",
    "Lato-Semibold", "Open-Sans-Regular", "Open-Sans-Semibold", "Roboto-Regular", "Roboto-Medium",
]
FIRST = ["SUMMER", "WINTER", "SPRING", "AUTUMN", "FLASH", "MEGA", "HOLIDAY", "WEEKEND", "FINAL",
         "BIG", "NEW", "BEST", "FRESH", "HOT", "LIMITED", "EXCLUSIVE", "SPECIAL", "FREE", "TODAY",
         "GRAND", "SUPER", "BLACK", "CYBER", "MIDNIGHT", "EARLY", "LAST", "DOUBLE", "OPENING"]
SECOND = ["SALE", "COLLECTION", "DEALS", "OFFER", "ARRIVALS", "SELLER", "SHIPPING", "SAVINGS",
          "STYLE", "LOOKS", "EDITION", "FAVORITES", "CLEARANCE", "ESSENTIALS", "EVENT", "DROP",
          "RELEASE", "PRICES", "GIFTS", "BUNDLE", "OUTLET", "SPECIALS", "TRENDS", "CLASSICS"]
THIRD = ["NOW", "TODAY", "ONLINE", "INSTORE", "WEEK", "ONLY", "FOREVER", "AGAIN"]
TAGLINES = [
    "free returns on every order", "shop the new season today", "made for everyday comfort",
    "only while stocks last", "designed in small batches", "your favourites are back",
    "order before noon for next day delivery", "join the club and save more",
    "quality you can feel", "new colours just landed", "members get early access",
    "ends sunday at midnight", "sustainably sourced materials", "find your perfect fit",
    "handpicked for the season", "limited sizes available", "save on the essentials",
    "discover the full range online", "crafted to last for years", "gift cards available",
]
SYLLABLES = ["nor", "vak", "zen", "tri", "lu", "mo", "ra", "kes", "tel", "ver", "do", "ba",
             "qui", "lo", "fen", "dar", "sol", "mi", "ka", "rex", "ta", "vio", "pel", "gor"]
SIZES = ["200x200", "250x250", "300x250", "336x280", "300x600", "728x90", "970x250", "800x450",
         "1080x1080", "1200x628", "1920x1080"]
DARK = ["#101820", "#1b1f4b", "#3b0a45", "#0b3d2e", "#4a0d0d", "#222222", "#0d2b55", "#2d1e12"]
LIGHT = ["#fdf6e3", "#f0f4ff", "#ffe9d6", "#e8fff0", "#ffffff", "#f5e6ff", "#fffbe0", "#e6f7ff"]
BRIGHT_FILL = ["#ffffff", "#ffe14d", "#fff3c4", "#b8f3ff", "#ffd0e0", "#ffffff"]
DARK_FILL = ["#000000", "#14213d", "#6b0f1a", "#0b3d2e", "#3d1a5b", "#222222"]


def size_class(width, height):
    if min(width, height) < 300 or width * height < 120000:
        return "small"
    if width * height < 600000:
        return "medium"
    return "large"


def brand_name(rng):
    name = "".join(rng.choice(SYLLABLES) for _ in range(rng.choice([2, 2, 3])))
    return name.capitalize()


def headline_text(rng):
    roll = rng.random()
    if roll < 0.15:
        return f"{rng.choice([20, 25, 30, 40, 50, 60, 70])}% OFF"
    words = [rng.choice(FIRST), rng.choice(SECOND)]
    if roll > 0.8:
        words.append(rng.choice(THIRD))
    return " ".join(words)


def template(rng):
    """Everything about a creative except its words: background, colours, fonts, layout."""
    width, height = map(int, rng.choice(SIZES).split("x"))
    light_on_dark = rng.random() < 0.55
    base = DARK if light_on_dark else LIGHT
    return {
        "width": width, "height": height, "light_on_dark": light_on_dark,
        "background": rng.choice(["gradient", "gradient", "gradient", "noise", "noise", "photo",
                                  "photo"]),
        "colors": [rng.choice(base), rng.choice(base)],
        "seed": rng.randrange(1, 1 << 30),
        "head_font": rng.choice(HEAVY_FONTS),
        "text_font": rng.choice(TEXT_FONTS),
        "fill": rng.choice(BRIGHT_FILL if light_on_dark else DARK_FILL),
        "stroke": (rng.choice(["#000000", "#101030", "#301010"]) if light_on_dark
                   else rng.choice(["none", "none", "#ffffff"])),
        "stroke_ratio": rng.choice([0.0, 0.02, 0.03, 0.04]),
        "rotate": rng.choice([0, 0, 0, rng.uniform(-4, 4)]),
        "band_dark": light_on_dark,
        "brand_top": rng.random() < 0.5,
    }


def creative_command(t, headline, brand, tagline, out):
    """ImageMagick arguments drawing one creative; returns (args, lines top to bottom)."""
    w, h = t["width"], t["height"]
    c1, c2 = t["colors"]
    if t["background"] == "gradient":
        args = ["convert", "-respect-parentheses", "-size", f"{w}x{h}", f"gradient:{c1}-{c2}"]
    elif t["background"] == "noise":  # fractal plasma in the template's colours, softened
        args = ["convert", "-respect-parentheses", "-seed", str(t["seed"]), "-size", f"{w}x{h}",
                f"plasma:{c1}-{c2}", "-blur", "0x2"]
    else:  # photo-like: sharp plasma of every colour with a few shapes on it, toned so the
        # words keep some contrast (darkened under light words, lightened under dark ones)
        shape_rng = random.Random(t["seed"])
        args = ["convert", "-respect-parentheses", "-seed", str(t["seed"]), "-size", f"{w}x{h}",
                "plasma:", "-blur", "0x0.7"]
        for _ in range(4):
            cx, cy = shape_rng.randrange(w), shape_rng.randrange(h)
            r = shape_rng.randrange(min(w, h) // 8, min(w, h) // 3 + 2)
            colour = shape_rng.choice(DARK + LIGHT)
            args += ["-fill", colour, "-draw", f"circle {cx},{cy} {cx + r},{cy}"]
        args += ["-modulate", "55,80"] if t["light_on_dark"] else ["+level", "45%,100%"]
    wide = w / h > 4
    lines = []
    if wide:  # leaderboard: headline left, brand right, no tagline
        head_w, head_h, head_x, head_y = int(w * 0.62), int(h * 0.55), int(w * 0.03), int(h * 0.22)
        brand_w, brand_h = int(w * 0.25), max(14, int(h * 0.3))
        brand_x, brand_y = int(w * 0.71), int((h - brand_h) / 2)
        tagline = None
    else:
        head_w, head_h = int(w * 0.88), int(h * (0.2 if h > w * 1.5 else 0.26))
        head_x, head_y = int((w - head_w) / 2), int(h * 0.3)
        brand_w, brand_h = int(w * 0.4), max(14, int(h * 0.07))
        brand_x = int(w * 0.05)
        brand_y = int(h * 0.05) if t["brand_top"] else int(h * 0.9) - brand_h
    stroke = t["stroke"]
    # The outline scales with the letters (ImageMagick fits the label to its box: its em is
    # bounded by the box's height and by the width the text needs, ~0.62 em a heavy letter).
    em = min(head_h * 0.8, head_w / (0.62 * max(1, len(headline))))
    stroke_width = max(1, round(em * t["stroke_ratio"])) if stroke != "none" else 0
    # The outline is drawn around the letters (a dilation of their shape), on a border wide
    # enough for it: ImageMagick's own -stroke eats the fill and is clipped at the label's edge.
    margin = stroke_width + 1
    head = ["(", "-background", "none", "-font", t["head_font"], "-fill", t["fill"],
            "-size", f"{head_w}x{head_h}", "-gravity", "center", f"label:{headline}",
            "-bordercolor", "none", "-border", str(margin)]
    if stroke_width:
        head += ["(", "+clone", "-channel", "A", "-morphology", "Dilate", f"Disk:{stroke_width}",
                 "+channel", "-fill", stroke, "-colorize", "100", ")", "+swap", "-composite"]
    if t["rotate"]:
        head += ["-rotate", f"{t['rotate']:.1f}"]
    head += [")", "-gravity", "northwest", "-geometry", f"+{head_x - margin}+{head_y - margin}",
             "-composite"]
    brand_color = t["fill"] if t["light_on_dark"] else "#111111"
    brand_args = ["(", "-background", "none", "-font", t["head_font"], "-fill", brand_color,
                  "-size", f"{brand_w}x{brand_h}", "-gravity", "west", f"label:{brand}", ")",
                  "-gravity", "northwest", "-geometry", f"+{brand_x}+{brand_y}", "-composite"]
    if t["brand_top"] and not wide:
        lines.append(brand)
        args += brand_args
    lines.append(headline)
    args += head
    if wide:  # to the headline's right: read after it
        lines.append(brand)
        args += brand_args
    if tagline:
        band_y1, band_h = int(h * 0.68), max(18, int(h * 0.11))
        band = "rgba(0,0,0,0.55)" if t["band_dark"] else "rgba(255,255,255,0.6)"
        text_color = "#ffffff" if t["band_dark"] else "#111111"
        text_h = max(12, int(band_h * 0.72))
        args += ["-fill", band, "-draw", f"rectangle 0,{band_y1} {w},{band_y1 + band_h}",
                 "(", "-background", "none", "-font", t["text_font"], "-fill", text_color,
                 "-size", f"{int(w * 0.9)}x{text_h}", "-gravity", "center", f"label:{tagline}", ")",
                 "-gravity", "north", "-geometry", f"+0+{band_y1 + (band_h - text_h) // 2}",
                 "-composite"]
        lines.append(tagline)
    if not (t["brand_top"] or wide):
        args += brand_args
        lines.append(brand)
    args += ["-quality", "90", out]
    return args, lines


def run(args):
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"make_corpus: {args[0]} failed: {done.stderr.strip()}")


def creatives(rng, count, out_dir):
    jobs, truth = [], []
    for i in range(count):
        t = template(rng)
        headline, brand = headline_text(rng), brand_name(rng)
        tagline = rng.choice(TAGLINES)
        name = f"creatives/c{i:03d}.{rng.choice(['png', 'jpg', 'jpg'])}"
        args, lines = creative_command(t, headline, brand, tagline, os.path.join(out_dir, name))
        jobs.append(args)
        truth.append({"file": name, "headline": headline, "lines": lines,
                      "size_class": size_class(t["width"], t["height"]),
                      "size": f"{t['width']}x{t['height']}",
                      "light_on_dark": t["light_on_dark"], "rotated": bool(t["rotate"])})
    return jobs, truth


# Copies a person would still call the same picture, as ImageMagick operations on the original.
VARIANTS = {
    "resized.jpg": ["-resize", "55%", "-quality", "85"],
    "recompressed.jpg": ["-quality", "30"],
    "cropped.png": ["-gravity", "center", "-crop", "93%x93%+0+0", "+repage"],
    "badge.png": ["-fill", "#e0202a", "-stroke", "none", "-draw", "circle %X,%Y %R,%Y"],
    "recoloured.jpg": ["-modulate", "106,115,97", "-quality", "90"],
}


def near_groups(rng, count, out_dir):
    originals, variants, truth = [], [], []
    for g in range(count):
        t = template(rng)
        t["rotate"] = 0
        brand, tagline = brand_name(rng), rng.choice(TAGLINES)
        headlines = []
        while len(headlines) < 3:
            text = headline_text(rng)
            if text not in headlines:
                headlines.append(text)
        original = f"near/g{g:02d}_original.png"
        args, _ = creative_command(t, headlines[0], brand, tagline, os.path.join(out_dir, original))
        originals.append(args)
        members = [original]
        for suffix, ops in VARIANTS.items():
            name = f"near/g{g:02d}_{suffix}"
            if suffix == "badge.png":  # a sale sticker in a corner, 1-2 % of the picture
                r = int(min(t["width"], t["height"]) * 0.07)
                x, y = t["width"] - r - 4, r + 4
                ops = [o.replace("%X", str(x)).replace("%Y", str(y)).replace("%R", str(x + r))
                       for o in ops]
            variants.append(["convert", os.path.join(out_dir, original)] + ops +
                            [os.path.join(out_dir, name)])
            members.append(name)
        truth.append({"group": f"g{g:02d}", "files": members})
        # The same template with other words: look-alikes that must not group.
        for k, text in enumerate(headlines[1:]):
            name = f"near/g{g:02d}_template{k + 1}.png"
            args, _ = creative_command(t, text, brand, tagline, os.path.join(out_dir, name))
            originals.append(args)
            truth.append({"group": f"g{g:02d}_template{k + 1}", "files": [name]})
    return originals, variants, truth


SIZE = "size=640x360:rate=25"
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
SPEECH = ["the weather is nice today",
          "we will go to the park and play football with our friends"]


def videos(out_dir):
    """Fixtures whose truth is their own filter graph's timing (as in the video tests)."""
    shots = (f"testsrc2={SIZE}:d=3[a];testsrc={SIZE}:d=3[b];testsrc2={SIZE}:d=3,"
             f"eq=contrast=0.25[c];testsrc2={SIZE}:d=3,hflip,vflip,eq=contrast=0.25,"
             f"fade=t=out:st=2.52:d=0.48[d];gradients={SIZE}:d=3:speed=0.02:seed=39,"
             f"fade=t=in:st=0:d=0.48[e];[a][b][c][d][e]concat=n=5:v=1:a=0[out_v]")
    defects = (f"color=c=white:{SIZE}:d=1.6,drawtext=fontfile={FONT}:text='SLATE TAKE 1':"
               f"fontsize=48:x=100:y=150[s];testsrc2={SIZE}:d=3[m1];color=c=black:{SIZE}:d=3[k];"
               f"testsrc2={SIZE}:d=0.04,loop=loop=74:size=1[f];smptebars={SIZE}:d=1.5[b];"
               f"testsrc2={SIZE}:d=3[m2];[s][m1][k][f][b][m2]concat=n=6:v=1:a=0[out_v];"
               "sine=f=440:d=3:sample_rate=48000,volume=0.8,aformat=channel_layouts=stereo[a1];"
               "anullsrc=r=48000:cl=stereo:d=3[a2];"
               "sine=f=1000:d=1:sample_rate=48000,volume=12,aformat=channel_layouts=stereo[a3];"
               "sine=f=440:d=8.1:sample_rate=48000,volume=0.8,aformat=channel_layouts=stereo[a4];"
               "[a1][a2][a3][a4]concat=n=4:v=0:a=1[out_a]")
    wavs = [os.path.join(out_dir, "videos", f"speech{i}.wav") for i in range(2)]
    for wav, text in zip(wavs, SPEECH):
        run(["espeak-ng", "-v", "en-us+f2", "-s", "140", "-w", wav, text])
    speech = (f"testsrc2={SIZE}:d=16[out_v];amovie={wavs[0]},adelay=2000:all=1[s1];"
              f"amovie={wavs[1]},adelay=9000:all=1[s2];[s1][s2]amix=inputs=2:normalize=0,"
              "apad=whole_dur=16,asetnsamples=n=1024:p=0[out_a]")
    h264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    for name, graph, codecs in [("shots.mp4", shots, h264), ("speech.mp4", speech, h264 + ["-c:a", "aac"]),
                                ("defects.mov", defects, h264 + ["-c:a", "pcm_s16le"])]:
        run(["ffmpeg", "-v", "error", "-y", "-filter_complex", graph, "-map", "[out_v]"] +
            (["-map", "[out_a]"] if "[out_a]" in graph else []) + codecs +
            [os.path.join(out_dir, "videos", name)])
    for wav in wavs:
        os.remove(wav)
    return [
        {"file": "videos/shots.mp4", "frame_rate": 25, "cut_frames": [75, 150, 225, 300]},
        {"file": "videos/defects.mov", "spans": {
            "black": [[4.6, 7.6]], "frozen": [[4.6, 7.6], [7.6, 10.6]],
            "color_bars": [[10.6, 12.1]], "silence": [[3.0, 6.0]], "clipping": [[6.0, 7.0]]}},
        {"file": "videos/speech.mp4", "transcript": " ".join(SPEECH)},
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--creatives", type=int, default=200)
    parser.add_argument("--near-groups", type=int, default=20)
    parser.add_argument("--no-videos", action="store_true")
    parser.add_argument("--seed", type=int, default=14)
    opts = parser.parse_args()
    for sub in ["creatives", "near", "videos"]:
        os.makedirs(os.path.join(opts.out, sub), exist_ok=True)
    rng = random.Random(opts.seed)
    creative_jobs, creative_truth = creatives(rng, opts.creatives, opts.out)
    originals, variants, near_truth = near_groups(rng, opts.near_groups, opts.out)
    with concurrent.futures.ThreadPoolExecutor(max(1, os.cpu_count() or 1)) as pool:
        list(pool.map(run, creative_jobs + originals))
        list(pool.map(run, variants))
        video_truth = [] if opts.no_videos else pool.submit(videos, opts.out).result()
    with open(os.path.join(opts.out, "truth.json"), "w") as f:
        json.dump({"seed": opts.seed, "creatives": creative_truth, "near": near_truth,
                   "videos": video_truth}, f, indent=1)
    print(f"make_corpus: {len(creative_truth)} creatives, {len(near_truth)} near-duplicate "
          f"groups and look-alikes, {len(video_truth)} videos in {opts.out}")


if __name__ == "__main__":
    main()
