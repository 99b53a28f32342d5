# zsh: zsh's own _git completes `git model ...` with the function _git-model (words[1] is
# "model"); git's contrib git-completion.zsh runs the bash-style _git_model instead, replying
# through its __gitcomp_nl. Both are defined here, over the same candidates.
_git-model () {
	local c
	c=$(__git_model_candidates "${(@)words[2,CURRENT]}")
	if [ "$c" = ":files" ]; then
		_files
		return
	fi
	[ -n "$c" ] || return 1
	local -a list
	list=("${(@f)c}")
	compadd -a list
}

_git_model () {
	local c
	c=$(__git_model_candidates "${words[@]:__git_cmd_idx+1:cword-__git_cmd_idx}")
	if [ "$c" = ":files" ] || [ -z "$c" ]; then
		return
	fi
	__gitcomp_nl "$c" "" "$cur"
}

compdef _git-model git-model 2>/dev/null || true
