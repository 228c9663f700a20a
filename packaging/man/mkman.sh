#!/bin/sh
# mkman.sh PAGE BUILD: writes the man page PAGE (sandtrail.1, sandtraild.8,
# sandtrail-proxy.8, sandtrail-policy.5, sandtrail-records.5) to stdout, made from what the
# binaries print for --help and from schemas/, so it cannot drift from them.
set -eu
page=$1 build=$2
dir=$(dirname "$0")
schemas=$dir/../../schemas
name=${page%.*} section=${page##*.}

# the subcommands, from the CLI's own table as `sandtrail --help` lists it
commands() { "$build/sandtrail" --help | sed -n '/^commands:/,/^$/{/^  /s/^  \([a-z]*\).*/\1/p}'; }

md() {
	case $page in
	sandtrail.1)
		printf '# NAME\n\nsandtrail - run commands in recorded sandbox sessions, replay and verify them\n\n'
		printf '# SYNOPSIS\n\n**sandtrail** *command* \\[*options*\\]\n\n# DESCRIPTION\n\n'
		printf 'sandtrail runs a command in a sandbox session that sandtraild(8) records into a sealed journal, and reads that journal back.\n'
		"$build/sandtrail" --help | sed -n '/^$/,$p' | sed '/^commands:/,/^$/d'
		printf '\n# COMMANDS\n\n'
		for c in $(commands); do
			"$build/sandtrail" "$c" --help | awk -v head="## sandtrail $c" -f "$dir/help2md.awk"
		done
		printf '\n# ENVIRONMENT\n\n`SANDTRAIL_SOCKET`\n: the control socket of sandtraild, as --socket PATH\n\n'
		printf '# SEE ALSO\n\nsandtraild(8), sandtrail-policy(5), sandtrail-records(5)\n' ;;
	sandtraild.8)
		printf '# NAME\n\nsandtraild - the sandtrail collector: eBPF session recording into a sealed journal\n\n# OPTIONS\n\n'
		"$build/sandtraild" --help | awk -f "$dir/help2md.awk"
		printf '\n# SEE ALSO\n\nsandtrail(1), sandtrail-records(5), systemd.service(5)\n' ;;
	sandtrail-journal.1)
		# its own message says what it is (it exits 2: it is not a command)
		printf '# NAME\n\nsandtrail-journal - the journal commands of sandtrail, in a binary of their own\n\n'
		printf '# DESCRIPTION\n\n'
		"$build/sandtrail-journal" 2>&1 | sed 's/^sandtrail-journal: //; s/^run/Run/; s/`\(.*\)`/**\1**/' || true
		printf '\nIt is installed beside sandtrail, which runs it for those commands.\n\n# SEE ALSO\n\nsandtrail(1)\n' ;;
	sandtrail-proxy.8)
		printf '# NAME\n\nsandtrail-proxy - the egress proxy of sandtrail sessions in network mode proxy\n\n# SYNOPSIS\n\n'
		# each usage line (with its continuations) a paragraph, the rest the description
		"$build/sandtrail-proxy" --help | sed 's/^usage: //; s/^ *//; s/[][\\`*_<>|#^~]/\\&/g' | awk '
			/^sandtrail-proxy / { if (syn != "") print syn "\n"; syn = $0; next }
			/^\\\[/ { syn = syn " " $0; next }
			!desc++ { print syn "\n\n# DESCRIPTION\n" } { print }'
		printf '\n# SEE ALSO\n\nsandtraild(8), sandtrail(1)\n' ;;
	sandtrail-policy.5)
		jq -r -f "$dir/policy2md.jq" "$schemas/policy.schema.json" ;;
	sandtrail-records.5)
		printf '# NAME\n\nsandtrail-records - the records of the sandtrail journal\n\n'
		cat "$schemas/record.md"
		printf '\n# SEE ALSO\n\nsandtrail(1), sandtraild(8)\n' ;;
	*) echo "mkman.sh: unknown page $page" >&2; exit 2 ;;
	esac
}

# ragged right, and tables with natural column widths, the last one taking
# what is left: no unbreakable cell stretched across an 80-column terminal
md | lowdown -s -Tman --out-no-smarty -m "title: $name" -m "section: $section" \
	| awk '{ print } /^\.TH/ { print ".ad l" }' \
	| awk '/^\.TS/ { tbl = 1 } tbl && /^tab\(/ { sub(/ expand/, "") }
	       tbl && /\.$/ { sub(/ *\.$/, "x."); tbl = 0 } { print }'
