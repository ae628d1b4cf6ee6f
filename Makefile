# The two commands of README.md, and the pieces they are made of.
.PHONY: demo test setup deploy lint sanity unit pins venv integration molecule bench clean build docs

## Set up this machine and deploy the whole stack locally.
demo: setup deploy

## Run every test (installs what it needs first).
test:
	scripts/test.sh

setup:
	scripts/setup.sh

deploy:
	.venv/bin/ansible-playbook site.yml

lint sanity unit pins venv integration molecule:
	scripts/test.sh setup $@

bench:
	scripts/setup.sh --test
	.venv/bin/python bench/run.py
	.venv/bin/python bench/endpointing.py

build:
	.venv/bin/ansible-galaxy collection build --force --output-path build

## Regenerate the Variables section of every roles/*/README.md from its
## meta/argument_specs.yml (aar-doc, configured by .aar_doc.yml).
docs:
	for role in roles/*/; do .venv/bin/aar-doc "$$role" markdown || exit 1; done

## Remove the local hosts (the cached base image stays).
clean:
	.venv/bin/ansible-playbook playbooks/990_local_teardown.yml
