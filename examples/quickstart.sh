#!/bin/sh
# The gitmodel session from the README, in a scratch repo: add -> commit -> change -> add ->
# commit -> checkout back and forth, then versions, a push to a local-directory remote and a
# teammate's clone; every checkout is checked by sha256 to restore the exact bytes.
# Run from anywhere: sh examples/quickstart.sh [SIZE_MIB]
set -eu
size_mib=${1:-64}
scratch=$(mktemp -d "${TMPDIR:-/tmp}/gitmodel-quickstart.XXXXXX")
cd "$scratch"
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { say "$*"; "$@"; }
train() {  # stands in for `python train.py`: writes a model of SIZE_MIB MiB
  python3 -c "import os,sys; f=open('models/classifier.safetensors','wb'); [f.write(os.urandom(1<<20)) for _ in range(int(sys.argv[1]))]" "$size_mib"
}

git init -q -b main .
git config user.name >/dev/null 2>&1 || git config user.name "Quickstart"
git config user.email >/dev/null 2>&1 || git config user.email "quickstart@example.com"
mkdir -p models data
echo "print('train')" > train.py
printf 'x,y\n1,0\n' > data/train.csv
git add train.py data/train.csv && git commit -qm "training code"

run git model install
run git commit -qm "gitmodel settings"
say "python train.py   # writes models/classifier.safetensors ($size_mib MiB)"; train
run git model add models/classifier.safetensors --metric accuracy=0.91 --param lr=3e-4 --data data/train.csv -m baseline
run git commit -qm "baseline classifier"
baseline=$(sha256sum models/classifier.safetensors | cut -d' ' -f1)

say "python train.py --lr 1e-4"; train
run git model add models/classifier.safetensors --metric accuracy=0.93 --param lr=1e-4
run git commit -qm "lower lr"
newer=$(sha256sum models/classifier.safetensors | cut -d' ' -f1)

run git checkout -q HEAD~1
got=$(sha256sum models/classifier.safetensors | cut -d' ' -f1)
[ "$got" = "$baseline" ] || { echo "FAILED: checkout HEAD~1 did not restore the baseline bytes" >&2; exit 1; }
echo "restored the baseline: sha256 $got"

run git switch -q -
got=$(sha256sum models/classifier.safetensors | cut -d' ' -f1)
[ "$got" = "$newer" ] || { echo "FAILED: switching back did not restore the newer bytes" >&2; exit 1; }
echo "restored the newer model: sha256 $got"

run git model status
run git diff HEAD~1 -- models/classifier.safetensors.model.toml
run git log --oneline

# Versions: annotated tags in GTO's grammar
run git model tag classifier v1.0.0 --rev HEAD~1 -m "baseline"
run git model tag classifier --bump minor -m "lower lr"
run git model assign classifier v1.1.0 prod
run git model list

# Sharing: a bare git repo and a local-directory model remote stand in for a server
git init -q --bare -b main "$scratch.origin.git"
run git model remote add origin "$scratch.models" --default --create
run git commit -qm "model remote"
run git remote add origin "$scratch.origin.git"
run git push -q origin main --follow-tags   # the pre-push hook uploads the model objects

say "a teammate: git clone ... && git model install && git model pull"
git clone -q "$scratch.origin.git" "$scratch.teammate"
cd "$scratch.teammate"
git model install >/dev/null 2>&1
run git model pull
got=$(sha256sum models/classifier.safetensors | cut -d' ' -f1)
[ "$got" = "$newer" ] || { echo "FAILED: the teammate's pull did not restore the newer bytes" >&2; exit 1; }
echo "the teammate has the newer model: sha256 $got"
run git checkout -q classifier@v1.0.0   # the hook fetches and restores the baseline
got=$(sha256sum models/classifier.safetensors | cut -d' ' -f1)
[ "$got" = "$baseline" ] || { echo "FAILED: checking out v1.0.0 did not restore the baseline" >&2; exit 1; }
echo "classifier@v1.0.0 restored: sha256 $got"
run git model show classifier#prod

printf '\nEvery checkout restored byte-identical models. Scratch repos: %s*\n' "$scratch"
