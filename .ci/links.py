"""Every relative link in the repository's Markdown resolves: the file exists, and a `#anchor`
names a heading of it (GitHub's slugs). Prints each broken link; exit 1 if any.

    python3 .ci/links.py
"""
import pathlib
import re
import sys

root = pathlib.Path(__file__).resolve().parent.parent
documents = [root / "README.md", root / "ARCHITECTURE.md", root / "bench" / "README.md"]
documents += sorted((root / "docs").glob("*.md"))
link = re.compile(r"\]\(([^)\s]+)\)")
fence = re.compile(r"^\s*```")


def slug(heading):
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path):
    found, in_code = set(), False
    for line in path.read_text(encoding="utf-8").splitlines():
        if fence.match(line):
            in_code = not in_code
        elif not in_code and line.startswith("#"):
            found.add(slug(line.lstrip("#")))
    return found


broken, checked = [], 0
for document in documents:
    in_code = False
    for number, line in enumerate(document.read_text(encoding="utf-8").splitlines(), 1):
        if fence.match(line):
            in_code = not in_code
            continue
        if in_code:
            continue
        for target in link.findall(line):
            if re.match(r"^[a-z]+:", target):
                continue  # https:, mailto:: not ours to check offline
            checked += 1
            path, _, anchor = target.partition("#")
            resolved = (document.parent / path).resolve() if path else document
            where = f"{document.relative_to(root)}:{number}: {target}"
            if not resolved.exists():
                broken.append(f"{where}: no such file")
            elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                broken.append(f"{where}: no heading #{anchor}")
print(f"{checked} relative links in {len(documents)} documents")
for problem in broken:
    print(problem)
sys.exit(1 if broken else 0)
