#!/bin/sh
# The man pages, generated from the program's own --help with help2man so that
# they cannot drift from it: chainrule.1 (chainrule --help, and SEE ALSO every
# command) and chainrule-COMMAND.1 for every command `chainrule help` lists
# (chainrule COMMAND --help; NAME is the command's summary line).
# usage: scripts/man-pages.sh path/to/chainrule OUTDIR VERSION
# Run by the build (the `man` target, CMakeLists.txt) when help2man is found.
set -eu
CR=$1 OUT=$2 VERSION=$3
mkdir -p "$OUT/bin"
rm -f "$OUT"/*.1
export LC_ALL=C.UTF-8 # the help texts are UTF-8 (½‖o − t‖²)
H2M="help2man --no-info --locale=C.UTF-8 --no-discard-stderr --version-string=$VERSION"
# "usage:" and the alternative forms as help2man reads a synopsis: "Usage:", "or:"
wrap() { # wrap NAME ARGS...: an executable OUT/bin/NAME that prints `chainrule ARGS --help`
  name=$1
  shift
  cat >"$OUT/bin/$name" <<WRAP
#!/bin/sh
"$CR" $* "\$@" | sed -e '1s/^usage:/Usage:/' -e 's/^       chainrule /   or: chainrule /'
WRAP
  chmod +x "$OUT/bin/$name"
}
cmds=$("$CR" help | sed -n 's/^  \([a-z][a-z-]*\)  .*/\1/p' | grep -v '^help$')
[ -n "$cmds" ] || { echo "man-pages.sh: $CR help lists no command" >&2; exit 1; }
see=""
for c in $cmds; do
  summary=$("$CR" help | sed -n "s/^  $c  *//p")
  wrap "chainrule-$c" "$c"
  $H2M --name "$summary" --output "$OUT/chainrule-$c.1" "$OUT/bin/chainrule-$c"
  see="$see${see:+,
}.BR chainrule-$c (1)"
done
printf '[SEE ALSO]\n%s\n' "$see" >"$OUT/see-also.h2m"
wrap chainrule
$H2M --name "compute, explain and verify derivatives of neural networks" \
  --include "$OUT/see-also.h2m" --output "$OUT/chainrule.1" "$OUT/bin/chainrule"
rm -rf "$OUT/bin" "$OUT/see-also.h2m"
