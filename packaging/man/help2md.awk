# One command's --help text as markdown for lowdown: the usage lines become
# the synopsis, option lines ("  --opt ARG   what it does", a sink's
# "  file:///PATH  ...", its "  key=VALUE  ...") a definition list, the rest
# paragraphs.  Run with -v head=HEADING (the "##" line before the synopsis).
function esc(s) { gsub(/[\\`*_\[\]<>|#^~]/, "\\\\&", s); return s }
function flush() { if (term != "") printf "\n`%s`\n: %s\n\n", term, esc(desc); term = "" }
function indent(s) { match(s, /^ */); return RLENGTH }
BEGIN { if (head != "") print head "\n" }
NR == 1 && /^usage: / { sub(/^usage: /, ""); syn = $0; insyn = 1; next }
insyn && /^ +\[/ { sub(/^ +/, ""); syn = syn " " $0; next }
insyn { printf "**%s**\n\n", esc(syn); insyn = 0 }
/^$/ { flush(); print ""; next }
{
	ind = indent($0)
	line = substr($0, ind + 1)
	# a description continued under its own column
	if (term != "" && ind >= dcol) { desc = desc " " line; next }
	split(line, parts, /  +/)
	t = parts[1]
	if (ind >= 2 && (t ~ /^-/ || t ~ /^[a-z_]+=/ || t ~ /^[a-z]+:\/\// || t ~ /^[A-Z]+\.\.\.$/)) {
		flush()
		term = t
		desc = substr(line, length(t) + 1)
		dcol = ind + length(t) + indent(desc) - 1
		sub(/^ +/, "", desc)
		next
	}
	flush()
	print esc(line)
}
END { if (insyn) printf "**%s**\n\n", esc(syn); flush() }
