"""What valid TwiML looks like, and a checker every TwiML answer in the tests goes through.

TwiML has no published schema. The table of verbs, their allowed children and attributes is derived from
the twilio library's own builder classes (each `Parent.child(...)` method nests one element and names its
attributes as keyword arguments); a few rules from Twilio's docs (../shared/TWILIO.md) are written by hand on top.
"""

from __future__ import annotations

import inspect
import re
import xml.etree.ElementTree as ET

from django.conf import settings
from twilio.twiml import TwiML, lower_camel
from twilio.twiml import messaging_response as messaging_module
from twilio.twiml import voice_response as voice_module

_NEST = re.compile(r"self\.nest\(\s*(\w+)\(")
_KWARG = re.compile(r"\b(\w+)=\1\b")


def _element_name(cls: type) -> str:
    return "Response" if cls.__name__ in ("VoiceResponse", "MessagingResponse") else cls.__name__


def _derive(module) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """{element: allowed child elements} and {element: allowed attributes}, read from the builders."""
    children: dict[str, set[str]] = {}
    attributes: dict[str, set[str]] = {}
    classes = {name: cls for name, cls in inspect.getmembers(module, inspect.isclass) if issubclass(cls, TwiML)}
    for cls in classes.values():
        parent = _element_name(cls)
        children.setdefault(parent, set())
        for _, method in inspect.getmembers(cls, inspect.isfunction):
            if method.__qualname__.split(".")[0] != cls.__name__:
                continue  # inherited (e.g. TwiML.nest itself)
            source = inspect.getsource(method)
            nested = _NEST.search(source)
            if not nested or nested.group(1) not in classes:
                continue
            child_cls = classes[nested.group(1)]
            child = _element_name(child_cls)
            children[parent].add(child)
            # Named parameters of the child's constructor (Dial's `number`, Say's `message`) are its text.
            content = set(inspect.signature(child_cls.__init__).parameters) - {"self", "kwargs"}
            call = source[nested.end() :]
            names = {lower_camel(TwiML.MAP.get(k, k)) for k in _KWARG.findall(call) if k not in content}
            attributes.setdefault(child, set()).update(names)
    return children, attributes


VOICE_CHILDREN, VOICE_ATTRIBUTES = _derive(voice_module)
MESSAGING_CHILDREN, MESSAGING_ATTRIBUTES = _derive(messaging_module)

# Hand-written rules from Twilio's docs.
BOOLEAN_ATTRIBUTES = {"answerOnBridge", "playBeep", "transcribe", "record", "hangupOnStar", "trim"}
INTEGER_ATTRIBUTES = {"timeout", "maxLength", "numDigits", "loop", "timeLimit", "length"}
URL_ATTRIBUTES = {"action", "url", "recordingStatusCallback", "transcribeCallback", "statusCallback"}
TEXT_ELEMENTS = {"Say", "Number", "Message", "Body", "Play", "Client", "Sip", "Redirect", "Dial"}
# Verbs whose action ends the document's flow: anything after them never runs (../shared/TWILIO.md, Dial).
FLOW_ENDING_WITH_ACTION = {"Dial", "Record", "Gather"}


class TwiMLError(AssertionError):
    pass


def _check_element(element: ET.Element, children: dict, attributes: dict, problems: list[str]) -> None:
    name = element.tag
    allowed_attributes = attributes.get(name, set())
    for attribute, value in element.attrib.items():
        if attribute not in allowed_attributes:
            problems.append(f"<{name}> has no attribute {attribute!r}")
        if attribute in BOOLEAN_ATTRIBUTES and value not in ("true", "false"):
            problems.append(f"<{name} {attribute}> must be true/false, not {value!r}")
        if attribute in INTEGER_ATTRIBUTES and not value.isdigit():
            problems.append(f"<{name} {attribute}> must be an integer, not {value!r}")
        if attribute in URL_ATTRIBUTES and not value.startswith(settings.PUBLIC_BASE_URL + "/"):
            problems.append(f"<{name} {attribute}> must be an absolute URL under PUBLIC_BASE_URL, not {value!r}")
    text = (element.text or "").strip()
    if text and name not in TEXT_ELEMENTS:
        problems.append(f"<{name}> may not hold text ({text!r})")
    if name in ("Say", "Number", "Message") and not text and not len(element):
        problems.append(f"<{name}> is empty")
    for child in element:
        if child.tag not in children.get(name, set()):
            problems.append(f"<{child.tag}> is not allowed inside <{name}>")
        _check_element(child, children, attributes, problems)


def _check_voice_rules(root: ET.Element, *, whisper: bool, problems: list[str]) -> None:
    verbs = list(root)
    for index, verb in enumerate(verbs):
        if verb.tag == "Dial" and "action" in verb.attrib and index != len(verbs) - 1:
            problems.append("verbs after <Dial action=…> never run")
        if verb.tag == "Record":
            if "action" not in verb.attrib:
                problems.append("<Record> without action re-requests the current URL (a loop)")
            if verb.get("transcribe") == "true" and int(verb.get("maxLength", "3600")) > 120:
                problems.append("transcription only works for recordings up to 120 s")
            if verb.get("transcribe") == "true" and "transcribeCallback" not in verb.attrib:
                problems.append("<Record transcribe> without transcribeCallback loses the text")
        if verb.tag == "Dial":
            timeout = int(verb.get("timeout", "30"))
            if not 5 <= timeout <= 600:
                problems.append(f"<Dial timeout> {timeout} out of range")
            dials_someone = any(child.tag in ("Number", "Client", "Sip", "Conference", "Queue") for child in verb)
            if not dials_someone and not (verb.text or "").strip():
                problems.append("<Dial> dials nobody")
    if whisper:
        for element in root.iter():
            if element.tag == "Dial":
                problems.append("a <Number url> whisper may not contain <Dial>")


def check_twiml(response_or_xml, *, kind: str = "voice", whisper: bool = False) -> ET.Element:
    """Assert the HTTP answer is valid TwiML (200, text/xml, allowed verbs, nesting, attributes); return
    the parsed <Response> for the test's own assertions."""
    if hasattr(response_or_xml, "status_code"):
        response = response_or_xml
        if response.status_code != 200:
            raise TwiMLError(f"HTTP {response.status_code}, not 200")
        content_type = response["Content-Type"].split(";")[0].strip()
        if content_type not in ("text/xml", "application/xml"):
            raise TwiMLError(f"Content-Type {content_type!r}")
        xml = response.content.decode()
    else:
        xml = response_or_xml
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as error:
        raise TwiMLError(f"not XML: {error}: {xml!r}") from error
    if root.tag != "Response":
        raise TwiMLError(f"root is <{root.tag}>, not <Response>")
    children, attributes = (
        (VOICE_CHILDREN, VOICE_ATTRIBUTES) if kind == "voice" else (MESSAGING_CHILDREN, MESSAGING_ATTRIBUTES)
    )
    problems: list[str] = []
    _check_element(root, children, attributes, problems)
    if kind == "voice":
        _check_voice_rules(root, whisper=whisper, problems=problems)
    if problems:
        raise TwiMLError("; ".join(problems) + f"\n{xml}")
    return root
