from __future__ import annotations

import datetime as dt
import importlib
import os
import platform
import sys
from pathlib import Path

# name -> module; each exposes run() -> str (a Markdown section).
BENCH_MODULES: dict[str, str] = {
    "api": "bench.api",
    "webhooks": "bench.webhooks",
    "screening": "bench.screening",
}


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem_gib:.0f} GiB, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def main(argv: list[str]) -> None:
    names = argv or list(BENCH_MODULES)
    sections = []
    for name in names:
        module = importlib.import_module(BENCH_MODULES[name])
        print(f"== {name}", flush=True)
        section = module.run()
        print(section, flush=True)
        sections.append(section)
    out = Path("BENCHMARKS.md")
    header = (
        "# Benchmarks\n\n"
        f"Machine: {machine()}.  \nDate: {dt.date.today().isoformat()}.  \n"
        "Produced by `make bench`; each section is re-measured when its benchmark runs.\n"
    )
    existing = out.read_text() if out.exists() else ""
    kept = _replace_sections(existing, names, sections)
    out.write_text(header + kept)


def _replace_sections(existing: str, names: list[str], sections: list[str]) -> str:
    """Keep the sections of benchmarks not run this time; replace the others."""
    blocks: dict[str, str] = {}
    for block in existing.split("\n<!-- bench:")[1:]:
        key, _, body = block.partition(" -->\n")
        blocks[key] = body.rstrip() + "\n"
    for name, section in zip(names, sections, strict=True):
        blocks[name] = section.rstrip() + "\n"
    ordered = [n for n in BENCH_MODULES if n in blocks]
    return "".join(f"\n<!-- bench:{n} -->\n{blocks[n]}" for n in ordered)


if __name__ == "__main__":
    main(sys.argv[1:])
