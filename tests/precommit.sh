#!/usr/bin/env bash
# Proves the pre-commit hook end to end with the real `pre-commit try-repo`: a throwaway git repo with
# a bad model must fail the hook with one concise line per finding; one with good models must pass,
# although it also commits a package.json and a utils.py (not models: skipped) and buggy models under
# venv/ and build/ (pre-commit names them; --force-exclude keeps them out).
# Usage: tests/precommit.sh [path/to/pre-commit]   (.ci/run passes the one from its venv)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
precommit=${1:-pre-commit}
case "$precommit" in */*) precommit="$(cd "$(dirname "$precommit")" && pwd)/$(basename "$precommit")" ;; esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Build each hook once and reuse it for both repos; the cargo build (rust hook) and the maturin
# wheel build (python hook) share one target folder.
export PRE_COMMIT_HOME="$repo/target/pre-commit-home"
export CARGO_TARGET_DIR="$repo/target/pre-commit-build"

make_repo() { # name model...
  local dir="$work/$1"; shift
  mkdir -p "$dir"
  git -C "$dir" init -q
  for m in "$@"; do cp "$repo/$m" "$dir/"; done
  echo '{"name": "not a model"}' > "$dir/package.json"
  printf 'import os\n\n\ndef helper():\n    return os.sep\n' > "$dir/utils.py"
  git -C "$dir" add -A
  git -C "$dir" -c user.name=ci -c user.email=ci@example.invalid commit -qm init
}

make_repo bad fixtures/NNL001/bad_torch_mlp_opset17.onnx
make_repo good fixtures/NNL001/good_torch_mlp_sigmoid_opset17.onnx fixtures/NNL001/good_torch_mlp_softmax2_opset17.onnx
for excluded in venv/lib/python3.12/site-packages/pkg build; do
  mkdir -p "$work/good/$excluded"
  cp "$repo/fixtures/NNL001/bad_torch_mlp_opset17.onnx" "$work/good/$excluded/"
done
git -C "$work/good" add -A
git -C "$work/good" -c user.name=ci -c user.email=ci@example.invalid commit -qm excluded
# A project whose model is in models.py and whose loss is in train.py: a commit that changes only
# train.py names only it, and the bug (a softmax in models.py before CrossEntropyLoss) is reported
# where it is.
mkdir -p "$work/project"
git -C "$work/project" init -q
cp "$repo"/fixtures/projects/torch_flat_bad/*.py "$work/project/"
git -C "$work/project" add -A
git -C "$work/project" -c user.name=ci -c user.email=ci@example.invalid commit -qm init
# A checkout without LFS (the model is its pointer) and a script with a syntax error: each is named
# for what it is, the hook fails.
mkdir -p "$work/mixed"
git -C "$work/mixed" init -q
printf 'version https://git-lfs.github.com/spec/v1\noid sha256:%064d\nsize 98304\n' 0 > "$work/mixed/weights.onnx"
printf 'import torch\nfrom torch import nn\n\nnet = nn.Sequential(\n    nn.Linear(8, 4),\n    nn.ReLU(),\n' > "$work/mixed/broken.py"
git -C "$work/mixed" add -A
git -C "$work/mixed" -c user.name=ci -c user.email=ci@example.invalid commit -qm init

ok=1
for hook in nnlint nnlint-py; do
  set +e
  (cd "$work/good" && "$precommit" try-repo "$repo" "$hook" --all-files) > "$work/good.log" 2>&1
  good=$?
  (cd "$work/bad" && "$precommit" try-repo "$repo" "$hook" --all-files) > "$work/bad.log" 2>&1
  bad=$?
  set -e
  if [ "$good" -ne 0 ] || ! grep -q "nnlint.*Passed" "$work/good.log"; then
    echo "FAIL: $hook: the good repo did not pass (exit $good)"; cat "$work/good.log"; ok=0
  fi
  if [ "$bad" -ne 1 ] || ! grep -q "nnlint.*Failed" "$work/bad.log" \
    || ! grep -q "bad_torch_mlp_opset17.onnx:1:1: NNL001 \[error\]" "$work/bad.log" \
    || grep -q "findings\? in" "$work/bad.log"; then
    echo "FAIL: $hook: the bad repo did not fail with one concise NNL001 line and no summary (exit $bad)"
    cat "$work/bad.log"; ok=0
  fi
  set +e
  (cd "$work/project" && "$precommit" try-repo "$repo" "$hook" --files train.py) > "$work/project.log" 2>&1
  project=$?
  set -e
  if [ "$project" -ne 1 ] || ! grep -q "models.py:19:16: NNL005 \[error\]" "$work/project.log"; then
    echo "FAIL: $hook: naming only train.py did not report the bug in models.py (exit $project)"
    cat "$work/project.log"; ok=0
  fi
  set +e
  (cd "$work/mixed" && "$precommit" try-repo "$repo" "$hook" --all-files) > "$work/mixed.log" 2>&1
  mixed=$?
  set -e
  if [ "$mixed" -ne 1 ] || ! grep -q "weights.onnx:1:1: error: a Git LFS pointer" "$work/mixed.log" \
    || ! grep -q "broken.py:7:1: syntax error:" "$work/mixed.log"; then
    echo "FAIL: $hook: the LFS pointer and the syntax error were not named as such (exit $mixed)"
    cat "$work/mixed.log"; ok=0
  fi
done
if [ "$ok" -eq 1 ]; then
  echo "pre-commit: both hooks (rust, python): 8 passed, 0 failed"
else
  exit 1
fi
