"""Each HTTP API answers as its own OpenAPI document says: schemathesis (`st run`) sends generated requests to every
operation, anonymously, and checks each answer's status code, content type, headers and body against the document.

Anonymous requests change nothing on a node (every write needs a token), so this is safe against a production node.
The number of generated cases per operation is bounded (`--api-examples`), beside the boundary cases of the coverage
phase."""

import asyncio
import re
import sys
import tempfile
from pathlib import Path

from conformance.run import Run

SCHEMATHESIS = Path(sys.executable).with_name("st")
CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,"
    "response_schema_conformance"
)
# How many generated cases per operation, unless the run says (--api-examples).
EXAMPLES = 5
# The event stream of the dashboards is asked to end (`follow=false`) rather than stream forever.
CONFIG = """
[parameters]
"query.follow" = false
"""


async def http_apis(run: Run) -> None:
    """Each HTTP API answers as its OpenAPI document says (schemathesis: status codes, content types, bodies; anonymous)"""
    examples = run.api_examples or EXAMPLES
    # A node may serve several services at one base URL: each document is checked once.
    for base in dict.fromkeys(url.rstrip("/") for url in run.description.services.values()):
        await _schemathesis(run, f"{base}/openapi.json", examples)


async def _schemathesis(run: Run, document: str, examples: int) -> None:
    with tempfile.TemporaryDirectory(prefix="conformance-st-") as folder:
        config = Path(folder) / "schemathesis.toml"
        config.write_text(CONFIG)
        command = [
            str(SCHEMATHESIS), "--config-file", str(config), "--no-color", "run", document,
            "--checks", CHECKS, "--phases", "examples,coverage,fuzzing", "--max-examples", str(examples),
            "--workers", "1", "--request-timeout", "30", "--suppress-health-check", "all",
        ]  # fmt: skip
        # In a folder of its own: schemathesis keeps failing cases in .schemathesis/ and would replay them next time.
        process = await asyncio.create_subprocess_exec(
            *command, cwd=folder, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        output, _ = await process.communicate()
    text = output.decode(errors="replace")
    run.record(" ".join(command[3:]), _findings(text) if process.returncode else _summary(text))
    if process.returncode != 0:
        failures = _failures(text)
        run.fail(f"{document}: " + ("; ".join(failures) if failures else f"schemathesis exited {process.returncode}"))


def _summary(output: str) -> str:
    """schemathesis's last lines: operations tested, cases generated, the verdict."""
    return " ".join(output.strip().splitlines()[-12:])


def _findings(output: str) -> str:
    """From the FAILURES (or ERRORS) section to the end: each failing case with its curl command, and the seed."""
    starts = [output.find(f"= {section} =") for section in ("ERRORS", "FAILURES")]
    found = [start for start in starts if start >= 0]
    return output[output.rfind("\n", 0, min(found)) + 1 :] if found else output[-4000:]


def _failures(output: str) -> list[str]:
    """One line per failure found: 'POST /courses: Undocumented status code (received 401; documented 201, 422)'."""
    section = _findings(output)
    section = section[: min([i for i in (section.find("= WARNINGS ="), section.find("= SUMMARY =")) if i >= 0] or [None])]
    found: list[tuple[str, list[str]]] = []
    operation = None
    for line in (line.strip() for line in section.splitlines()):
        if heading := re.fullmatch(r"_{3,} (.+?) _{3,}", line):
            operation = heading.group(1)
        elif operation and (failure := re.fullmatch(r"- (?:ST\d+ )?(.+)", line)):
            found.append((f"{operation}: {failure.group(1)}", []))
        elif found and (detail := re.fullmatch(r"(Received|Documented): (.+)", line)):
            found[-1][1].append(f"{detail.group(1).lower()} {detail.group(2)}")
    return list(dict.fromkeys(f"{head} ({'; '.join(details)})" if details else head for head, details in found))
