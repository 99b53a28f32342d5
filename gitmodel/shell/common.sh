# Candidates for `git model ...`, shared by the bash and zsh entry points below.
# Plain POSIX-style shell that bash and zsh read alike: no arrays, no word splitting of variables
# (lists are newline-separated and printed whole). Dynamic candidates come from git itself in
# one or two processes (for-each-ref, grep, cat-file): no Python starts on a TAB.

# Tag names, one per line.
__git_model_tags () {
	git for-each-ref --format='%(refname:lstrip=2)' "$@" 2>/dev/null
}

# Model names: the `name = "..."` at the top of every committed model file (before its first
# table; every model file starts with `format = `), and every NAME of a registry tag.
__git_model_names () {
	{
		git grep -h --no-color -e '^format = ' -e '^\[' -e '^name = "' \
			-- ':(top)*.model.toml' 2>/dev/null
		[ "${1-}" = work ] || { echo '#tags'; __git_model_tags refs/tags; }
	} | awk '
		/^#tags$/ { tags = 1; next }
		!tags && /^format = / { table = 0; next }
		!tags && /^\[/ { table = 1; next }
		!tags && !table && /^name = "/ {
			sub(/^name = "/, ""); sub(/".*$/, ""); if (!seen[$0]++) print; next }
		tags && /[@#]/ { n = $0; sub(/[@#].*$/, "", n); if (n != "" && !seen[n]++) print n }'
}

# Active versions of model $1 (v1.2.0 ...; those with a deregister tag left out), then latest.
__git_model_versions () {
	__git_model_tags "refs/tags/$1@*" | awk -v name="$1" '
		{ v = substr($0, length(name) + 2); sub(/#.*$/, "", v) }
		v ~ /^v[0-9]/ && v ~ /!$/ { sub(/!$/, "", v); gone[v] = 1; next }
		v ~ /^v[0-9]/ { have[v] = 1 }
		END { for (v in have) if (!(v in gone)) print v; print "latest" }'
}

# Stages: of model $1 those it holds now (the newest NAME#STAGE#N or NAME#STAGE!#N decides);
# with no $1, every stage any model ever used and those .gitmodel.toml's [stages] lists.
__git_model_stages () {
	if [ -n "${1-}" ]; then
		__git_model_tags "refs/tags/$1#*" | awk -v name="$1" '
			{ rest = substr($0, length(name) + 2); n = split(rest, part, "#")
			  s = part[1]; off = sub(/!$/, "", s); num = (n > 1) ? part[2] + 0 : 0
			  if (!(s in best) || num >= best[s]) { best[s] = num; gone[s] = off } }
			END { for (s in best) if (!gone[s]) print s }'
		return
	fi
	{
		__git_model_tags refs/tags
		echo '#config'
		git cat-file -p :.gitmodel.toml 2>/dev/null
	} | awk '
		/^#config$/ { config = 1; next }
		!config && /#/ { n = split($0, part, "#"); s = part[2]; sub(/!$/, "", s)
			if (s != "" && !seen[s]++) print s; next }
		config && /^\[/ { stages = ($0 ~ /^\[stages\]/); next }
		config && stages && /^(allowed|order) *=/ {
			line = $0; sub(/^[^=]*= *\[/, "", line); sub(/\].*$/, "", line)
			n = split(line, part, ","); for (i = 1; i <= n; i++) {
				s = part[i]; gsub(/[ "\047]/, "", s); if (s != "" && !seen[s]++) print s } }'
}

# Model remotes: the [remote.NAME] tables of the committed (staged) .gitmodel.toml.
__git_model_remotes () {
	git cat-file -p :.gitmodel.toml 2>/dev/null | sed -n 's/^\[remote\.\(.*\)\][[:space:]]*$/\1/p' |
		sed 's/^"\(.*\)"$/\1/'
}

# NAME, NAME@VERSION or NAME#STAGE, by what the word typed so far ($1) already holds.
__git_model_specs () {
	case "$1" in
	*#*) __git_model_stages "${1%%#*}" | sed "s|^|${1%%#*}#|" ;;
	*@*) __git_model_versions "${1%%@*}" | sed "s|^|${1%%@*}@|" ;;
	*) __git_model_names "${2-}" ;;
	esac
}

# Candidates of one kind (see gitmodel/cli/completion.py); $2 is the word being completed,
# $3 the first argument of the command (the model name, for versions and stages).
__git_model_kind () {
	case "$1" in
	model) __git_model_names ;;
	wmodel) __git_model_names work ;;
	spec) __git_model_specs "$2" ;;
	wspec) __git_model_specs "$2" work ;;
	version) __git_model_versions "$3" ;;
	stage) __git_model_stages ;;
	mstage) __git_model_stages "$3" ;;
	remote) __git_model_remotes ;;
	tag) __git_model_tags refs/tags ;;
	ref) git for-each-ref --format='%(refname:short)' refs/heads refs/tags 2>/dev/null ;;
	choice:*) echo "${1#choice:}" | tr ',' '\n' ;;
	file) echo ':files' ;;
	esac
}

# Every candidate for the last of "$@" (the words after `model`, the last one being completed),
# one per line; the line ":files" asks the caller for file-name completion.
__git_model_candidates () {
	local cmd="" cpath="" prev="" first="" count=0 cur="" word
	while [ $# -gt 1 ]; do
		word=$1
		shift
		if [ -n "$prev" ]; then  # the value of an option that takes one
			prev=""
			continue
		fi
		case "$word" in
		--*=*) continue ;;
		-*)
			if [ -n "$cmd" ]; then
				__git_model_spec "$cpath"
				case "$__git_model_valopts" in
				*" $word "*) prev=$word ;;
				esac
			fi
			continue ;;
		esac
		if [ -z "$cmd" ]; then
			cmd=$word
			cpath=$word
			__git_model_spec "$cpath"
			continue
		fi
		if [ -n "$__git_model_subcommands" ] && [ "$cpath" = "$cmd" ]; then
			cpath="$cmd $word"
			__git_model_spec "$cpath"
			continue
		fi
		[ $count -eq 0 ] && first=$word
		count=$((count + 1))
	done
	cur=${1-}
	if [ -z "$cmd" ]; then
		case "$cur" in
		-*) printf '%s\n' --version -h --help ;;
		*) printf '%s\n' "$__git_model_commands" ;;
		esac
		return
	fi
	__git_model_spec "$cpath"
	if [ -n "$prev" ]; then
		__git_model_kind "$(__git_model_option_kind "$prev")" "$cur" "$first"
		return
	fi
	case "$cur" in
	--*=*)
		local vkind
		vkind=$(__git_model_option_kind "${cur%%=*}")
		if [ "$vkind" = file ]; then
			echo ':files'
		else
			__git_model_kind "$vkind" "${cur#*=}" "$first" | sed "s|^|${cur%%=*}=|"
		fi
		return ;;
	-*) printf '%s\n' "$__git_model_opts"; return ;;
	esac
	if [ -n "$__git_model_subcommands" ] && [ "$cpath" = "$cmd" ]; then
		printf '%s\n' "$__git_model_subcommands"
		return
	fi
	# the kind of argument number $count (0-based); a kind ending in "..." takes every rest
	local kinds=$__git_model_args kind=""
	while [ -n "$kinds" ]; do
		kind=${kinds%% *}
		case "$kinds" in
		*" "*) kinds=${kinds#* } ;;
		*) kinds="" ;;
		esac
		case "$kind" in *...) break ;; esac
		[ $count -eq 0 ] && break
		count=$((count - 1))
		kind=""
	done
	__git_model_kind "${kind%...}" "$cur" "$first"
}
