#!/usr/bin/env python3
"""Checks the container deployment against the code and the docs, without Docker.

  python3 Tests/ops/check_compose.py [repository root]

Exits 1 with one line per problem, or prints "compose check: ok". Needs PyYAML only.
Checked: both compose files parse (alone and merged); every service runs either the
livechat image with one of the four products as its command, or the apache/kafka image;
every environment variable the livechat services get is documented in
docs/configuration.md and read by name in Swift (a string literal under Shared/ or
Services/; the kafka containers' own variables are exempt); every variable interpolated
into the compose files, and every variable the Swift services read, is documented; the
topics job creates exactly the topics of the table in docs/architecture.md with their
partitions and cleanup policies, with replication 1 on one broker and 3
(min.insync.replicas 2) in the HA file; the Dockerfile builds exactly the four service products and chatctl
(and ships the SwiftPM resource bundles when a target has resources);
the gateway publishes 8080 and its health check asks /healthz or /readyz; the other
services can be scaled (no container_name, no published ports) and their health checks
ask their ops port; every service has its store volume and waits for the topics job.
"""
import copy
import pathlib
import re
import sys

import yaml

SERVICES = ("gateway", "router", "presence", "archiver")
# What the image holds: the services and the operators' tool.
PRODUCTS = SERVICES + ("chatctl",)
KAFKA_IMAGE = "apache/kafka:"
LIVECHAT_IMAGE = "livechat:"


class Checker:
    def __init__(self, root):
        self.root = root
        self.problems = []

    def fail(self, message):
        self.problems.append(message)

    def read(self, relative):
        path = self.root / relative
        try:
            return path.read_text(encoding="utf-8")
        except OSError as error:
            self.fail(f"{relative}: cannot read ({error.strerror})")
            return None

    def load_yaml(self, relative):
        text = self.read(relative)
        if text is None:
            return None
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as error:
            self.fail(f"{relative}: not valid YAML: {error}")
            return None
        if not isinstance(document, dict) or not isinstance(document.get("services"), dict):
            self.fail(f"{relative}: has no 'services' mapping")
            return None
        return document


def merge(base, override):
    """Compose-style merge, enough for these files: mappings merge key by key,
    anything else (command, lists) is replaced by the override."""
    if isinstance(base, dict) and isinstance(override, dict):
        result = copy.deepcopy(base)
        for key, value in override.items():
            result[key] = merge(base[key], value) if key in base else copy.deepcopy(value)
        return result
    return copy.deepcopy(override)


def environment_names(service):
    environment = service.get("environment") or {}
    if isinstance(environment, dict):
        return set(environment)
    return {entry.split("=", 1)[0] for entry in environment}


def environment_value(service, name):
    environment = service.get("environment") or {}
    if isinstance(environment, dict):
        value = environment.get(name)
        return None if value is None else str(value)
    for entry in environment:
        key, _, value = entry.partition("=")
        if key == name:
            return value
    return None


def as_argv(value):
    if value is None:
        return []
    if isinstance(value, str):
        return value.split()
    return [str(part) for part in value]


def interpolated_names(text):
    # ${NAME}, ${NAME:-default}, ${NAME:?message}...; $$ escapes a dollar.
    return set(re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)", text))


def documented_names(text):
    return set(re.findall(r"`([A-Z][A-Z0-9_]+)`", text))


def swift_literals(root):
    names = set()
    for folder in ("Shared", "Services"):
        for path in (root / folder).rglob("*.swift"):
            names.update(re.findall(r'"([A-Z][A-Z0-9_]+)"', path.read_text(encoding="utf-8")))
    return names


DEV_TOOLING = ("Shared/ChatDevKit", "Services/DevBroker", "Services/ChatDev")


def swift_configuration_reads(root):
    """Variable names the services read: a string literal on a line that mentions
    `environment` (EnvironmentReader calls), outside the development tools."""
    names = set()
    for folder in ("Shared", "Services"):
        for path in (root / folder).rglob("*.swift"):
            if str(path.relative_to(root)).startswith(DEV_TOOLING):
                continue
            for line in path.read_text(encoding="utf-8").splitlines():
                if "environment" in line:
                    names.update(re.findall(r'"([A-Z][A-Z0-9_]{2,})"', line))
    return names


def architecture_topics(text):
    topics = {}
    for line in text.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        name = cells[0].strip("`")
        if not re.fullmatch(r"[a-z]+\.[a-z]+", name):
            continue  # another table (services) with a backticked first cell
        if len(cells) < 4 or not cells[2].isdigit() or cells[3] not in ("delete", "compact", "delete (1 hour)"):
            continue
        topics[name] = (int(cells[2]), cells[3])
    return topics


def script_topics(text):
    return {name: (int(count), policy + (" (1 hour)" if short else ""))
            for name, count, policy, short in re.findall(r"^topic\s+(\S+)\s+(\d+)\s+(delete|compact)(\s+short)?\s*$", text, re.M)}


def check_file(checker, label, document, documented, swift_names, replication):
    services = document["services"]
    ours = {}
    kafka_brokers = []
    for name, service in services.items():
        service = service or {}
        image = str(service.get("image", ""))
        if image.startswith(KAFKA_IMAGE):
            if name != "topics":
                kafka_brokers.append(name)
            continue
        if not image.startswith(LIVECHAT_IMAGE):
            checker.fail(f"{label}: service '{name}' uses image '{image}', neither {LIVECHAT_IMAGE}* nor {KAFKA_IMAGE}*")
            continue
        build = service.get("build") or {}
        if build.get("dockerfile") != "compose/Dockerfile":
            checker.fail(f"{label}: service '{name}' is not built from compose/Dockerfile")
        argv = as_argv(service.get("command"))
        if not argv or argv[0] not in SERVICES:
            checker.fail(f"{label}: service '{name}' runs {argv or 'nothing'}; its command must start with one of {', '.join(SERVICES)}")
            continue
        ours[name] = (argv[0], service)

    for name, (product, service) in ours.items():
        for variable in sorted(environment_names(service)):
            if variable not in documented:
                checker.fail(f"{label}: {name} sets {variable}, which docs/configuration.md does not document")
            if variable not in swift_names:
                checker.fail(f"{label}: {name} sets {variable}, which no .swift file under Shared/ or Services/ names as a string literal")
        mounts = [str(volume).split(":") for volume in service.get("volumes") or []]
        store = f"/var/lib/livechat/{product}"
        sources = [mount[0] for mount in mounts if mount[1:2] == [store]]
        if not sources:
            checker.fail(f"{label}: {name} mounts no volume at {store}")
        elif sources[0] not in (document.get("volumes") or {}):
            checker.fail(f"{label}: {name} mounts '{sources[0]}', which is not a named volume of the file")
        if product != "gateway":
            port = environment_value(service, "CHAT_OPS_PORT")
            test = " ".join(as_argv((service.get("healthcheck") or {}).get("test")))
            if port is None or not re.search(rf":{port}/(healthz|readyz)\b", test):
                checker.fail(f"{label}: {name}'s health check does not ask its ops port (CHAT_OPS_PORT={port}) for /healthz or /readyz")
        dependency = (service.get("depends_on") or {}).get("topics") if isinstance(service.get("depends_on"), dict) else None
        if not dependency or dependency.get("condition") != "service_completed_successfully":
            checker.fail(f"{label}: {name} does not wait for the topics job (depends_on topics: service_completed_successfully)")
        if product != "gateway":
            if "container_name" in service or service.get("ports"):
                checker.fail(f"{label}: {name} has a container_name or published ports, so it cannot be scaled")

    products = sorted(product for product, _ in ours.values())
    if products != sorted(SERVICES):
        checker.fail(f"{label}: expected one service per product {sorted(SERVICES)}, found {products}")

    gateways = [service for product, service in ours.values() if product == "gateway"]
    for gateway in gateways:
        published = False
        for port in gateway.get("ports") or []:
            if isinstance(port, dict):
                published |= str(port.get("target")) == "8080" and str(port.get("published")) == "8080"
            else:
                published |= re.fullmatch(r"(?:[\d.]+:)?8080:8080(?:/tcp)?", str(port)) is not None
        if not published:
            checker.fail(f"{label}: the gateway does not publish port 8080")
        test = " ".join(as_argv((gateway.get("healthcheck") or {}).get("test")))
        if not re.search(r":8080/(healthz|readyz)\b", test):
            checker.fail(f"{label}: the gateway's health check does not ask :8080/healthz or :8080/readyz (test: {test or 'none'})")
        if "GATEWAY_TOKEN_SECRET" not in environment_names(gateway):
            checker.fail(f"{label}: the gateway gets no GATEWAY_TOKEN_SECRET (replicas must share one)")

    topics = services.get("topics") or {}
    if not str(topics.get("image", "")).startswith(KAFKA_IMAGE):
        checker.fail(f"{label}: no 'topics' job on the {KAFKA_IMAGE}* image")
    else:
        if "topics.sh" not in " ".join(as_argv(topics.get("entrypoint"))):
            checker.fail(f"{label}: the topics job does not run topics.sh")
        if not any(str(volume).startswith("./topics.sh:") for volume in topics.get("volumes") or []):
            checker.fail(f"{label}: the topics job does not mount ./topics.sh")
        argv = as_argv(topics.get("command"))
        want_replication, want_insync = replication
        if len(argv) != 3 or argv[1:] != [str(want_replication), str(want_insync)]:
            checker.fail(f"{label}: the topics job's arguments are {argv}; expected bootstrap, {want_replication}, {want_insync}")
        elif sorted(argv[0].split(",")) != sorted(f"{broker}:9092" for broker in kafka_brokers):
            checker.fail(f"{label}: the topics job bootstraps from {argv[0]}, the brokers are {kafka_brokers}")
        if len(kafka_brokers) != want_replication:
            checker.fail(f"{label}: {len(kafka_brokers)} Kafka brokers for replication factor {want_replication}")
        for name, (_, service) in ours.items():
            bootstrap = environment_value(service, "CHAT_KAFKA_BOOTSTRAP") or ""
            if sorted(bootstrap.split(",")) != sorted(f"{broker}:9092" for broker in kafka_brokers):
                checker.fail(f"{label}: {name} bootstraps from '{bootstrap}', the brokers are {kafka_brokers}")


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parents[2])
    checker = Checker(root)
    base = checker.load_yaml("compose/docker-compose.yml")
    ha = checker.load_yaml("compose/docker-compose.ha.yml")
    configuration = checker.read("docs/configuration.md") or ""
    architecture = checker.read("docs/architecture.md") or ""
    script = checker.read("compose/topics.sh") or ""
    dockerfile = checker.read("compose/Dockerfile") or ""
    documented = documented_names(configuration)
    swift_names = swift_literals(root)

    expected = architecture_topics(architecture)
    if not expected:
        checker.fail("docs/architecture.md: no topic table rows found")
    created = script_topics(script)
    for name, spec in sorted(expected.items()):
        if name not in created:
            checker.fail(f"compose/topics.sh does not create {name}")
        elif created[name] != spec:
            checker.fail(f"compose/topics.sh creates {name} with {created[name][0]} partitions, {created[name][1]}; docs/architecture.md says {spec[0]}, {spec[1]}")
    for name in sorted(set(created) - set(expected)):
        checker.fail(f"compose/topics.sh creates {name}, which docs/architecture.md does not list")

    if base is not None:
        check_file(checker, "docker-compose.yml", base, documented, swift_names, (1, 1))
    if base is not None and ha is not None:
        check_file(checker, "docker-compose.yml + docker-compose.ha.yml", merge(base, ha), documented, swift_names, (3, 2))

    for relative in ("compose/docker-compose.yml", "compose/docker-compose.ha.yml"):
        for name in sorted(interpolated_names(checker.read(relative) or "")):
            if name not in documented:
                checker.fail(f"{relative} interpolates ${{{name}}}, which docs/configuration.md does not document")
    for name in sorted(swift_configuration_reads(root) - documented):
        checker.fail(f"the services read {name} (Swift sources), which docs/configuration.md does not document")
    for line in (checker.read("compose/.env.example") or "").splitlines():
        match = re.match(r"#?([A-Z][A-Z0-9_]+)=", line)
        if match and match.group(1) not in documented:
            checker.fail(f"compose/.env.example names {match.group(1)}, which docs/configuration.md does not document")

    built = re.findall(r"--product[ =](\S+)", dockerfile)
    if sorted(built) != sorted(PRODUCTS):
        checker.fail(f"compose/Dockerfile builds {built}; expected exactly {list(PRODUCTS)}")
    manifest = checker.read("Package.swift") or ""
    kinds = [re.findall(r"\.(target|testTarget|executableTarget)\(", manifest[:match.start()])[-1:]
             for match in re.finditer(r"\bresources:", manifest)]
    instructions = "\n".join(line for line in dockerfile.splitlines() if not line.lstrip().startswith("#"))
    if any(kind and kind[0] != "testTarget" for kind in kinds) and "*.resources" not in instructions:
        checker.fail("Package.swift gives a target resources, but compose/Dockerfile does not copy the *.resources bundles next to the binaries")
    if "compose/entrypoint.sh" not in dockerfile or not re.search(r"^ENTRYPOINT\s", dockerfile, re.M):
        checker.fail("compose/Dockerfile does not install compose/entrypoint.sh as its ENTRYPOINT")

    if checker.problems:
        for problem in checker.problems:
            print(f"compose check: {problem}", file=sys.stderr)
        print(f"compose check: {len(checker.problems)} problem(s)", file=sys.stderr)
        return 1
    print("compose check: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
