#!/usr/bin/env python3
"""Static checks of the deployment files, run by `make test` (Tests/ServiceTests/Deploy/DeploymentTests.swift).

    deploy-checks.py compose                 docker-compose.yml and deploy/compose/*.yml against the compose spec
    deploy-checks.py kubernetes              kustomize build of the base and the example overlay against the
                                             Kubernetes schemas (kubernetes-validate --strict) and KEDA's CRDs
    deploy-checks.py hadolint                the Dockerfile
    deploy-checks.py runtime-libraries BIN   every shared library the executables in BIN link comes from a
                                             package the Dockerfile's runtime stage installs or the base image
    deploy-checks.py configuration BIN       compose files, Kubernetes ConfigMaps/Secrets and the READMEs agree
                                             with the workers' `--help-env` (executables in BIN)
    deploy-checks.py dashboard METRICS...    every metric the Grafana dashboard queries is in a /metrics scrape

Each prints what it checked and exits 1 with the problems listed. The tools (check-jsonschema, kubectl with
its built-in kustomize, kubernetes-validate, hadolint) come from the project venv (`make deps`).
"""
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_BIN = os.path.dirname(sys.executable)
WORKERS = ["gateway", "embedder", "rag-chain", "outbox-relay", "review-sampler"]
# The executables the image ships (Dockerfile's build stage).
IMAGE_EXECUTABLES = WORKERS + ["ragctl", "fake-model-server"]
COMPOSE_FILES = ["docker-compose.yml", "deploy/compose/sasl.yml"]
KUSTOMIZATIONS = ["deploy/k8s/base", "deploy/k8s/overlays/example"]
DASHBOARD = "deploy/grafana/dashboards/kafka-rag.json"
# Libraries of debian:bookworm-slim itself (essential packages the runtime stage does not install).
BASE_IMAGE_PACKAGES = {"libc6", "libgcc-s1", "libstdc++6", "zlib1g"}

problems = []


def tool(name):
    path = os.path.join(VENV_BIN, name)
    return path if os.path.exists(path) else name


def run(arguments, **kwargs):
    return subprocess.run(arguments, cwd=ROOT, capture_output=True, text=True, **kwargs)


def load_yaml_documents(path_or_text, text=False):
    import yaml
    source = path_or_text if text else open(os.path.join(ROOT, path_or_text)).read()
    return [document for document in yaml.safe_load_all(source) if document is not None]


def fail(message):
    problems.append(message)


# ---- compose ----

def check_compose():
    for path in COMPOSE_FILES:
        result = run([tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", path])
        if result.returncode != 0:
            fail(f"{path} does not validate against the compose spec:\n{result.stdout}{result.stderr}")
        else:
            print(f"compose: {path} validates against the compose specification's JSON schema")


# ---- kubernetes ----

def kustomize(path):
    result = run([tool("kubectl"), "kustomize", path])
    if result.returncode != 0:
        fail(f"kustomize build {path} failed: {result.stderr}")
        return None
    return result.stdout


def partitions_and_topics():
    topics = {}
    for line in open(os.path.join(ROOT, "deploy/kafka/topics.txt")):
        line = line.strip()
        if line and not line.startswith("#"):
            name, *settings = line.split()
            topics[name] = dict(setting.split("=", 1) for setting in settings)
    script = open(os.path.join(ROOT, "deploy/kafka/create-topics.sh")).read()
    partitions = int(re.search(r"RAG_TOPIC_PARTITIONS:-(\d+)", script).group(1))
    return partitions, topics


def check_kubernetes():
    import jsonschema
    schemas = {}
    for kind, file in [("ScaledObject", "scaledobject"), ("TriggerAuthentication", "triggerauthentication")]:
        schemas[kind] = json.load(open(os.path.join(ROOT, f"deploy/schemas/keda/{file}-keda.sh-v1alpha1.json")))
    partitions, topics = partitions_and_topics()
    for path in KUSTOMIZATIONS:
        rendered = kustomize(path)
        if rendered is None:
            continue
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as file:
            file.write(rendered)
        result = run([tool("kubernetes-validate"), "--strict", "--quiet", file.name])
        os.unlink(file.name)
        if result.returncode != 0:
            fail(f"{path}: kubernetes-validate --strict failed:\n{result.stdout}{result.stderr}")
        documents = load_yaml_documents(rendered, text=True)
        deployments = {d["metadata"]["name"] for d in documents if d["kind"] == "Deployment"}
        for document in documents:
            kind = document["kind"]
            if document.get("apiVersion", "").startswith("keda.sh/"):
                errors = sorted(jsonschema.Draft4Validator(schemas[kind]).iter_errors(document), key=str)
                for error in errors:
                    fail(f"{path}: {kind} {document['metadata']['name']}: {'/'.join(map(str, error.path))}: {error.message}")
            if kind == "ScaledObject":
                name = document["metadata"]["name"]
                spec = document["spec"]
                if spec["scaleTargetRef"]["name"] not in deployments:
                    fail(f"{path}: ScaledObject {name} scales {spec['scaleTargetRef']['name']}, which is no Deployment")
                for trigger in spec["triggers"]:
                    topic = trigger["metadata"].get("topic")
                    if trigger["type"] != "kafka" or topic not in topics:
                        fail(f"{path}: ScaledObject {name}: trigger {trigger['type']} on {topic}: expected kafka on a platform topic")
                if spec["maxReplicaCount"] > partitions:
                    fail(f"{path}: ScaledObject {name}: maxReplicaCount {spec['maxReplicaCount']} > {partitions} partitions")
        kinds = sorted({d["kind"] for d in documents})
        print(f"kubernetes: {path}: {len(documents)} resources ({', '.join(kinds)}) validate (Kubernetes 1.37 schemas, "
              f"strict; KEDA CRDs); every ScaledObject's maxReplicaCount <= {partitions} partitions")


# ---- hadolint ----

def check_hadolint():
    result = run([tool("hadolint"), "Dockerfile"])
    if result.returncode != 0:
        fail(f"hadolint Dockerfile:\n{result.stdout}{result.stderr}")
    else:
        print("hadolint: Dockerfile passes")


# ---- runtime libraries ----

def dockerfile_stages():
    """(stage name, [instruction lines]) of the Dockerfile, continuation lines joined."""
    text = open(os.path.join(ROOT, "Dockerfile")).read().replace("\\\n", " ")
    stages = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = re.match(r"FROM\s+\S+(?:\s+AS\s+(\S+))?", stripped, re.IGNORECASE)
        if match:
            stages.append((match.group(1) or "", []))
        elif stages:
            stages[-1][1].append(stripped)
    return stages


def apt_installed(instructions):
    packages = set()
    for instruction in instructions:
        for match in re.finditer(r"apt-get install ([^&;]*)", instruction):
            packages |= {word for word in match.group(1).split() if not word.startswith("-")}
    return packages


_packages_of = {}


def dpkg_package(path):
    if path not in _packages_of:
        _packages_of[path] = _dpkg_package(path)
    return _packages_of[path]


def _dpkg_package(path):
    candidates = [path, os.path.realpath(path)]
    for candidate in list(candidates):
        if candidate.startswith("/usr/lib/"):
            candidates.append(candidate[len("/usr"):])
        elif candidate.startswith("/lib/"):
            candidates.append("/usr" + candidate)
    for candidate in candidates:
        result = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
        if result.returncode == 0:
            return result.stdout.split(":")[0].split(",")[0].strip()
    return None


def depends_closure(packages):
    """The packages and, recursively, every installed package they depend on (on this machine)."""
    installed = set(subprocess.run(["dpkg-query", "-W", "-f=${Package}\\n"], capture_output=True, text=True).stdout.split())
    seen, queue = set(), list(packages)
    while queue:
        package = queue.pop()
        if package in seen:
            continue
        seen.add(package)
        result = subprocess.run(["dpkg-query", "-W", "-f=${Pre-Depends}, ${Depends}", package], capture_output=True, text=True)
        for clause in result.stdout.split(","):
            for alternative in clause.split("|"):
                name = alternative.strip().split(" ")[0].split(":")[0]
                if name in installed:
                    queue.append(name)
                    break
    return seen


def check_runtime_libraries(bin_dir):
    stages = dockerfile_stages()
    runtime = [instructions for name, instructions in stages if name == "runtime"]
    build = [instructions for name, instructions in stages if name == "build"]
    if not runtime or not build:
        fail("Dockerfile: expected a stage named build and one named runtime")
        return
    runtime_packages = apt_installed(runtime[0])
    static_stdlib = any("--static-swift-stdlib" in instruction for instruction in build[0])
    provided = runtime_packages | BASE_IMAGE_PACKAGES
    closure = depends_closure(provided)
    # A metapackage (libopenblas0: no library of its own) provides what the package it pulls in ships
    # (libopenblas0-pthread, the first alternative installed here).
    provided_by = {package: {package} for package in provided}
    for package in runtime_packages:
        files = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True).stdout
        if ".so" not in files:
            provided_by[package] |= depends_closure([package]) - closure_without(package, provided)
    provided_directly = set().union(*provided_by.values())
    swift_lib = os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(subprocess.run(
        ["which", "swift"], capture_output=True, text=True).stdout.strip()))), "lib")
    direct_packages, swift_libraries = set(), set()
    for executable in IMAGE_EXECUTABLES:
        path = os.path.join(bin_dir, executable)
        if not os.path.exists(path):
            fail(f"{path} does not exist (build first)")
            continue
        needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", run(["readelf", "-d", path]).stdout))
        for line in run(["ldd", path]).stdout.splitlines():
            match = re.match(r"\s*(\S+)\s+=>\s+(\S+)", line)
            if not match:
                continue  # linux-vdso, the dynamic loader (libc6)
            soname, library = match.groups()
            if library == "not":
                fail(f"{executable}: {soname} not found on this machine")
                continue
            if os.path.realpath(library).startswith(swift_lib):
                swift_libraries.add(soname)
                continue
            package = dpkg_package(library)
            if package is None:
                fail(f"{executable}: {library} belongs to no Debian package")
            elif soname in needed and package not in provided_directly:
                fail(f"{executable} links {soname} ({package}), which the runtime stage does not install "
                     f"(it installs {', '.join(sorted(runtime_packages))})")
            elif package not in closure:
                fail(f"{executable}: {soname} ({package}) is not a dependency of any package the runtime image has")
            elif soname in needed:
                direct_packages.add(package)
    if swift_libraries and not static_stdlib:
        fail(f"the executables link the Swift runtime ({', '.join(sorted(swift_libraries))}) but the build stage "
             "does not link it statically (--static-swift-stdlib) and the runtime stage has no Swift libraries")
    unused = {package for package in runtime_packages if not provided_by[package] & direct_packages} - {"ca-certificates", "tzdata"}
    if unused:
        fail(f"the runtime stage installs {', '.join(sorted(unused))}, which no executable links")
    print(f"runtime-libraries: {len(IMAGE_EXECUTABLES)} executables link {', '.join(sorted(direct_packages))} directly; "
          f"all from the runtime stage ({', '.join(sorted(runtime_packages))}) or the base image "
          f"({', '.join(sorted(BASE_IMAGE_PACKAGES))}), their dependencies from those packages' Depends; "
          f"Swift runtime ({len(swift_libraries)} libraries in debug builds) linked statically: {static_stdlib}")


def closure_without(package, packages):
    """What the other packages pull in anyway (so a metapackage is credited only with what it adds)."""
    return depends_closure(packages - {package}) - {package}


# ---- configuration ----

def help_env(bin_dir):
    """worker -> {variable: required?} from `<worker> --help-env`."""
    variables = {}
    for worker in WORKERS:
        output = subprocess.run([os.path.join(bin_dir, worker), "--help-env"], capture_output=True, text=True).stdout
        table = {}
        for match in re.finditer(r"^\| `(RAG_[A-Z0-9_]+)` \| ([^|]+) \|", output, re.MULTILINE):
            table[match.group(1)] = match.group(2).strip() == "**required**"
        if not table:
            fail(f"{worker} --help-env printed no variables")
        variables[worker] = table
    return variables


def environment_of(service):
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) if "=" in item else (item, None) for item in environment)
    return environment


def worker_of_command(command):
    if isinstance(command, str):
        command = command.split()
    return command[0] if command and command[0] in WORKERS else None


def check_configuration(bin_dir):
    variables = help_env(bin_dir)
    every_variable = set().union(*variables.values()) if variables else set()
    # Compose: every RAG_ variable a worker's service sets is one that worker reads; the main file sets every
    # required one (an override file only adds to it).
    for path in COMPOSE_FILES:
        services = load_yaml_documents(path)[0].get("services", {})
        main = load_yaml_documents(COMPOSE_FILES[0])[0]["services"]
        for name, service in services.items():
            worker = worker_of_command(service.get("command") or main.get(name, {}).get("command"))
            environment = environment_of(service)
            if worker is None:
                stray = [key for key in environment if key.startswith("RAG_") and key != "RAG_TOPIC_PARTITIONS"]
                if stray:
                    fail(f"{path}: service {name} runs no worker but sets {', '.join(stray)}")
                continue
            for key in environment:
                if key.startswith("RAG_") and key not in variables[worker]:
                    fail(f"{path}: {name} sets {key}, which {worker} does not read ({worker} --help-env)")
            if path == COMPOSE_FILES[0]:
                for key, required in variables[worker].items():
                    if required and not environment.get(key):
                        fail(f"{path}: {name} does not set {key}, which {worker} requires")
    # Kubernetes: the same rule for each Deployment's env and the ConfigMaps and Secrets it takes as envFrom.
    for path in KUSTOMIZATIONS:
        rendered = kustomize(path)
        if rendered is None:
            continue
        documents = load_yaml_documents(rendered, text=True)
        data = {}
        for document in documents:
            if document["kind"] in ("ConfigMap", "Secret"):
                keys = set(document.get("data") or {}) | set(document.get("stringData") or {})
                data[(document["kind"], document["metadata"]["name"])] = keys
        for document in documents:
            if document["kind"] != "Deployment":
                continue
            for container in document["spec"]["template"]["spec"]["containers"]:
                worker = worker_of_command(container.get("command"))
                if worker is None:
                    fail(f"{path}: Deployment {document['metadata']['name']} runs no worker ({container.get('command')})")
                    continue
                keys = {entry["name"] for entry in container.get("env", [])}
                for source in container.get("envFrom", []):
                    kind, reference = ("ConfigMap", source["configMapRef"]) if "configMapRef" in source else ("Secret", source["secretRef"])
                    if (kind, reference["name"]) in data:
                        keys |= data[(kind, reference["name"])]
                    elif not reference.get("optional") and path != KUSTOMIZATIONS[0]:
                        fail(f"{path}: Deployment {worker} takes {kind} {reference['name']}, which the build does not make")
                for key in sorted(keys):
                    if key.startswith("RAG_") and key not in variables[worker]:
                        fail(f"{path}: Deployment {worker} gets {key}, which {worker} does not read")
                for key, required in variables[worker].items():
                    if required and key not in keys and not (path == KUSTOMIZATIONS[0] and key == "RAG_DATABASE_URL"):
                        fail(f"{path}: Deployment {worker} does not get {key}, which {worker} requires")
    # READMEs: every RAG_ name is a variable a worker reads, or one a script or ragctl reads (named in its
    # source); `RAG_EMBEDDING_*` stands for the variables starting so.
    other_sources = subprocess.run(["grep", "-rhoE", r"RAG_[A-Z0-9_]*[A-Z0-9]", "scripts", "Services/ragctl", "Makefile"],
                                   cwd=ROOT, capture_output=True, text=True).stdout.split()
    known = every_variable | set(other_sources)
    for path in ["README.md", "deploy/README.md"]:
        text = open(os.path.join(ROOT, path)).read()
        for match in sorted(set(re.findall(r"RAG_[A-Z0-9_]*[A-Z0-9_](?:\*)?", text))):
            if match.endswith("*") or match.endswith("_"):
                prefix = match.rstrip("*")
                if not any(name.startswith(prefix) for name in known):
                    fail(f"{path} names {match}, but no variable starts with {prefix}")
            elif match not in known:
                fail(f"{path} names {match}, which no worker, script or ragctl reads")
    print(f"configuration: {sum(map(len, variables.values()))} variables of {len(variables)} workers (--help-env); "
          f"{', '.join(COMPOSE_FILES)}, the kustomize builds of {', '.join(KUSTOMIZATIONS)}, README.md and "
          "deploy/README.md name only variables that exist, set only what each worker reads and every required one")


# ---- dashboard ----

PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset", "le", "inf", "nan"}


def queried_metrics(expression):
    expression = re.sub(r'"(?:[^"\\]|\\.)*"', "", expression)      # label values
    expression = re.sub(r"\{[^}]*\}", "", expression)                # label matchers
    expression = re.sub(r"\[[^\]]*\]", "", expression)               # ranges
    expression = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expression)
    expression = re.sub(r"\$\{?\w+\}?", "", expression)                # dashboard variables
    names = set()
    for match in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expression):
        following = expression[match.end():].lstrip()[:1]
        if following != "(" and match.group(0).lower() not in PROMQL_WORDS:
            names.add(match.group(0))
    return names


def check_dashboard(metric_files):
    dashboard = json.load(open(os.path.join(ROOT, DASHBOARD)))
    exported = set()
    for path in metric_files:
        for line in open(path):
            if line and not line.startswith("#"):
                match = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)", line)
                if match:
                    exported.add(match.group(1))
    expressions = []
    for panel in dashboard.get("panels", []):
        for target in panel.get("targets", []):
            expressions.append((panel.get("title", "?"), target.get("expr", "")))
    queried = set()
    for title, expression in expressions:
        for name in queried_metrics(expression):
            queried.add(name)
            if name not in exported:
                fail(f"dashboard panel '{title}' queries {name}, which no worker exports (expr: {expression})")
    if not expressions:
        fail("the dashboard has no queries")
    print(f"dashboard: {len(expressions)} queries of {len(dashboard.get('panels', []))} panels use {len(queried)} metrics, "
          f"all in the scrape of {len(metric_files)} workers ({len(exported)} series names)")


def main():
    command, arguments = sys.argv[1], sys.argv[2:]
    {
        "compose": lambda: check_compose(),
        "kubernetes": lambda: check_kubernetes(),
        "hadolint": lambda: check_hadolint(),
        "runtime-libraries": lambda: check_runtime_libraries(arguments[0]),
        "configuration": lambda: check_configuration(arguments[0]),
        "dashboard": lambda: check_dashboard(arguments),
    }[command]()
    for problem in problems:
        print("PROBLEM: " + problem)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
