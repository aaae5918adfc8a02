"""The verdicts as JUnit XML, so that a CI system shows each requirement as a test.

One ``<testsuite>`` per framework, one ``<testcase>`` per requirement (``classname`` is
``framework/group``, e.g. ``en303645/5.1``, so CI views group provisions by clause). FAIL is a
``<failure>`` with the reason and a summary of the findings behind it; INCONCLUSIVE is ``<skipped>`` with
what is missing; NOT_APPLICABLE is ``<skipped>`` with a message that says so (a CI view must not count "could
not check" and "does not apply" as the same); PASS is a plain test case. The shape follows the Jenkins/Surefire
JUnit schema (``tests/fixtures/schemas/junit-10.xsd``): no ``skipped`` count on ``<testsuites>``, durations "0"
(iotcop judges; it does not time requirements).

Built with xml.etree, which escapes markup; characters XML 1.0 cannot carry at all (control characters, lone
surrogates from undecodable file names) are written as visible ``\\xNN`` escapes, never dropped silently.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from iotcop.catalogue import Catalogue
from iotcop.errors import UsageError
from iotcop.model import Assessment, Finding, Outcome, Verdict

MAX_FINDINGS = 20  # per failure: a CI log is read by a person
SKIP_PREFIX = {Outcome.INCONCLUSIVE: "INCONCLUSIVE: could not be established: ",
               Outcome.NOT_APPLICABLE: "NOT_APPLICABLE: does not apply to this product: "}
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def clean(text: str) -> str:
    """Text XML 1.0 can carry: illegal characters become visible escapes (``\\x1b``, ``\\udcff``)."""
    return _ILLEGAL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def render_junit(assessment: Assessment, catalogue: Catalogue) -> bytes:
    by_print = {f.fingerprint: f for f in assessment.findings}
    totals = {"tests": 0, "failures": 0}
    root = ET.Element("testsuites", name=clean(f"iotcop: {assessment.target.name}"), time="0")
    for framework_id in dict.fromkeys(v.framework for v in assessment.verdicts):
        verdicts = [v for v in assessment.verdicts if v.framework == framework_id]
        suite = _suite(framework_id, verdicts, assessment, catalogue, by_print)
        root.append(suite)
        totals["tests"] += len(verdicts)
        totals["failures"] += sum(v.outcome is Outcome.FAIL for v in verdicts)
    root.set("tests", str(totals["tests"]))
    root.set("failures", str(totals["failures"]))
    root.set("errors", "0")
    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data + b"\n"


def _suite(framework_id: str, verdicts: Sequence[Verdict], assessment: Assessment, catalogue: Catalogue,
           by_print: dict[str, Finding]) -> ET.Element:
    title = framework_id
    try:
        fw = catalogue.framework(framework_id)
        title = f"{fw.info.title} {fw.info.version}"
    except UsageError:  # verdicts from a catalogue this version no longer ships: still reported
        fw = None
    suite = ET.Element("testsuite", name=clean(framework_id), tests=str(len(verdicts)),
                       failures=str(sum(v.outcome is Outcome.FAIL for v in verdicts)), errors="0",
                       skipped=str(sum(v.outcome in SKIP_PREFIX for v in verdicts)), time="0",
                       timestamp=clean(assessment.generated_at))
    props = ET.SubElement(suite, "properties")
    for name, value in (("framework", title), ("target", assessment.target.name),
                        ("target.sha256", assessment.target.sha256 or ""), ("tool.version", assessment.tool.version)):
        ET.SubElement(props, "property", name=name, value=clean(value))
    for verdict in verdicts:
        group, req_title = verdict.requirement_id, ""
        if fw is not None and verdict.requirement_id in fw:
            req = fw.requirement(verdict.requirement_id)
            group, req_title = req.group, req.title
        name = f"{verdict.requirement_id} {req_title}".strip()
        case = ET.SubElement(suite, "testcase", name=clean(name), classname=clean(f"{framework_id}/{group}"),
                             time="0")
        _outcome(case, verdict, by_print)
    return suite


def _outcome(case: ET.Element, verdict: Verdict, by_print: dict[str, Finding]) -> None:
    mandatory = "mandatory" if verdict.mandatory else "not mandatory"
    if verdict.outcome is Outcome.FAIL:
        failure = ET.SubElement(case, "failure", type=f"FAIL ({mandatory}, {verdict.basis.value})",
                                message=clean(verdict.reason))
        failure.text = clean(_details(verdict, by_print))
    elif verdict.outcome in SKIP_PREFIX:
        ET.SubElement(case, "skipped", type=verdict.outcome.value,
                      message=clean(SKIP_PREFIX[verdict.outcome] + verdict.reason))
    # PASS: a plain test case


def _details(verdict: Verdict, by_print: dict[str, Finding]) -> str:
    lines = [f"{verdict.framework}:{verdict.requirement_id} FAIL ({verdict.basis.value}): {verdict.reason}"]
    found = [by_print[p] for p in verdict.findings if p in by_print]
    for f in found[:MAX_FINDINGS]:
        lines.append(f"- [{f.severity.value}] {f.check_id} at {f.location}: {f.message}")
    if len(found) > MAX_FINDINGS:
        lines.append(f"... and {len(found) - MAX_FINDINGS} more finding(s)")
    return "\n".join(lines)
