#!/usr/bin/python3
"""The reference a user would otherwise write: a plain asyncio + aiohttp pipeline doing the
work of `sluice run` with three remote steps per item — download, hash and store each file,
three chat calls per item (image as a data URL, JSON-schema output, reply parsed), a journal
line per call, one SQLite commit at the end. At most IN_FLIGHT calls at once.

Usage: python_pipeline.py URLFILE OPENAI_BASE_URL IN_FLIGHT WORKDIR
Prints one JSON line: items, seconds, items_per_s, calls.
"""
import asyncio, base64, hashlib, json, os, sqlite3, sys, time

import aiohttp

SCHEMAS = {
    "tags": {"type": "object", "properties": {"tags": {"type": "array", "items": {"type": "string"}}},
             "required": ["tags"], "additionalProperties": False},
    "content_type": {"type": "object", "properties": {"content_type": {"type": "string"},
                     "confidence": {"type": "number"}}, "required": ["content_type", "confidence"],
                     "additionalProperties": False},
    "seo_filename": {"type": "object", "properties": {"filename": {"type": "string"},
                     "alt_text": {"type": "string"}}, "required": ["filename", "alt_text"],
                     "additionalProperties": False},
}


async def main():
    url_file, base, in_flight, work = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    urls = [line.strip() for line in open(url_file) if line.strip()]
    os.makedirs(os.path.join(work, "objects"), exist_ok=True)
    journal = open(os.path.join(work, "journal.jsonl"), "a")
    calls = asyncio.Semaphore(in_flight)
    items = asyncio.Semaphore(in_flight)
    rows = []
    connector = aiohttp.TCPConnector(limit=in_flight + 64)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def call(name, data_url):
            body = {"model": "fake-chat", "temperature": 0, "max_tokens": 512,
                    "messages": [{"role": "system", "content": "Answer with JSON only."},
                                 {"role": "user", "content": [{"type": "text", "text": name},
                                  {"type": "image_url", "image_url": {"url": data_url}}]}],
                    "response_format": {"type": "json_schema", "json_schema":
                                        {"name": "result", "schema": SCHEMAS[name], "strict": True}}}
            async with calls:
                for attempt in range(5):
                    async with session.post(base + "/chat/completions", json=body) as response:
                        if response.status == 429 or response.status >= 500:
                            await asyncio.sleep(0.25 * 2 ** attempt)
                            continue
                        response.raise_for_status()
                        reply = await response.json()
                        return json.loads(reply["choices"][0]["message"]["content"])
            raise RuntimeError("gave up")

        async def item(url):
            async with items:
                async with session.get(url) as response:
                    data = await response.read()
                sha = hashlib.sha256(data).hexdigest()
                with open(os.path.join(work, "objects", sha), "wb") as f:
                    f.write(data)
                data_url = "data:image/png;base64," + base64.b64encode(data).decode()
                results = await asyncio.gather(*(call(name, data_url) for name in SCHEMAS))
                for name, result in zip(SCHEMAS, results):
                    journal.write(json.dumps({"item": url, "step": name, "output": result}) + "\n")
                    rows.append((url, sha, name, json.dumps(result)))

        start = time.monotonic()
        await asyncio.gather(*(item(u) for u in urls))
    journal.flush()
    db = sqlite3.connect(os.path.join(work, "results.db"))
    db.execute("CREATE TABLE IF NOT EXISTS steps (url TEXT, sha256 TEXT, method TEXT, output TEXT)")
    with db:
        db.executemany("INSERT INTO steps VALUES (?, ?, ?, ?)", rows)
    seconds = time.monotonic() - start
    print(json.dumps({"items": len(urls), "seconds": seconds, "items_per_s": len(urls) / seconds,
                      "calls": len(rows)}))


asyncio.run(main())
