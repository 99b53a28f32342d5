# bash: git's own completion (/usr/share/bash-completion/completions/git) runs _git_model for
# `git model ...`, with words, cword, cur and __git_cmd_idx set and __gitcomp_nl to reply.
# Without git's completion loaded, _git_model reads COMP_WORDS/COMP_CWORD and fills COMPREPLY
# itself, which is also how `git-model ...` is completed.
_git_model () {
	local __git_model_w __git_model_cw __git_model_at=0 __git_model_c
	if [ -n "${__git_cmd_idx-}" ] && [ -n "${cword-}" ]; then
		__git_model_w=("${words[@]}")
		__git_model_cw=$cword
		__git_model_at=$__git_cmd_idx
	else
		# bash splits --remote=origin into --remote, =, origin (COMP_WORDBREAKS): join them
		# back, as git's own completion does before it calls us
		local __git_model_i __git_model_join=0
		__git_model_w=()
		__git_model_cw=-1
		for ((__git_model_i = 0; __git_model_i < ${#COMP_WORDS[@]}; __git_model_i++)); do
			local __git_model_x=${COMP_WORDS[__git_model_i]}
			if [ ${#__git_model_w[@]} -gt 0 ] &&
				{ [ "$__git_model_x" = "=" ] || [ $__git_model_join = 1 ]; }; then
				__git_model_w[${#__git_model_w[@]}-1]+=$__git_model_x
				[ "$__git_model_x" = "=" ] && __git_model_join=1 || __git_model_join=0
			else
				__git_model_w+=("$__git_model_x")
				__git_model_join=0
			fi
			[ $__git_model_i = "$COMP_CWORD" ] && __git_model_cw=$((${#__git_model_w[@]} - 1))
		done
		if [ "${__git_model_w[0]##*/}" != git-model ]; then
			__git_model_at=1
			while [ $__git_model_at -lt $__git_model_cw ] &&
				[ "${__git_model_w[__git_model_at]}" != model ]; do
				__git_model_at=$((__git_model_at + 1))
			done
		fi
	fi
	local __git_model_cur="${__git_model_w[__git_model_cw]-}"
	__git_model_c=$(__git_model_candidates \
		"${__git_model_w[@]:__git_model_at+1:__git_model_cw-__git_model_at}")
	if [ "$__git_model_c" = ":files" ]; then
		COMPREPLY=()  # git's `complete -o default` (and ours below) then completes file names
		return
	fi
	case "$__git_model_cur" in
	--*=*)  # candidates carry the --option= prefix; reply with the value only, as git does
		__git_model_c=$(printf '%s\n' "$__git_model_c" | sed "s|^${__git_model_cur%%=*}=||")
		__git_model_cur=${__git_model_cur#*=} ;;
	esac
	if declare -f __gitcomp_nl >/dev/null 2>&1 && [ -n "${__git_cmd_idx-}" ]; then
		__gitcomp_nl "$__git_model_c" "" "$__git_model_cur"
	else
		local IFS=$'\n'
		COMPREPLY=($(compgen -W "$__git_model_c" -- "$__git_model_cur"))
	fi
}

complete -o bashdefault -o default -F _git_model git-model 2>/dev/null ||
	complete -o default -F _git_model git-model
