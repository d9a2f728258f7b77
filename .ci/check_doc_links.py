"""Checks every internal link of a built HTML site, without the network.

Usage: python .ci/check_doc_links.py BUILD_DIR

Each href and src that names no scheme or host must point to a file of the
build, and its #fragment to an id in that file. External links (http:,
https:, mailto:, ...) are counted and never fetched: CI has no network, and
a site's outside links are not the project's to keep alive. Exits 1 and
lists the broken links if there is any.
"""

import os
import sys
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit


class Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids = set()
        self.links = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("id", "name") and value:
                self.ids.add(value)
            elif name in ("href", "src") and value is not None:
                self.links.append(value)


def parse(path):
    page = Page()
    with open(path, encoding="utf-8") as f:
        page.feed(f.read())
    return page


def main(root):
    pages = {}
    for folder, _, files in os.walk(root):
        for name in files:
            if name.endswith(".html"):
                path = os.path.normpath(os.path.join(folder, name))
                pages[path] = parse(path)
    broken, internal, external = [], 0, 0
    for path, page in sorted(pages.items()):
        for link in page.links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc:
                external += 1
                continue
            internal += 1
            target = path
            if parts.path:
                target = os.path.normpath(os.path.join(os.path.dirname(path), unquote(parts.path)))
            if not os.path.exists(target):
                broken.append("%s: %s (no file %s)" % (path, link, target))
                continue
            if parts.fragment and target.endswith(".html"):
                if unquote(parts.fragment) not in pages[target].ids:
                    broken.append("%s: %s (no id %r in %s)" % (path, link, parts.fragment, target))
    print("%d pages, %d internal links checked, %d external links not fetched"
          % (len(pages), internal, external))
    for line in broken:
        print("broken:", line)
    return 1 if broken or not pages else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
