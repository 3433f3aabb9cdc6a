#!/bin/sh
# Doxygen's INPUT_FILTER for the public headers (docs/Doxyfile.in): their plain
# comments become Doxygen's. A comment opening a line ("/* ..." or "/*" alone)
# documents what follows it ("/** ..."); a comment after a member or an
# enumerator on its line ("int n; /* ... */", "CR_OK, /* ... */") documents that
# member ("/**< ..."). The license/banner comment at the top stays a comment.
# usage: scripts/doxygen-filter.sh FILE
exec sed -e '1,/^#define/b' \
  -e 's|^\([[:space:]]*\)/\*\([^*]\)|\1/**\2|' -e 's|^\([[:space:]]*\)/\*$|\1/**|' \
  -e 's|\([;,{][[:space:]]*\)/\*\([^*<]\)|\1/**<\2|' "$1"
