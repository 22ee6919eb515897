"""Flow files: every validation error reported with its file, node and problem (all of them,
not the first), prompt catalogues, map files, and the dependency rule of ``ivr/``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import ivr
from ivr import FLOW, FlowError, Problem, compile_flow, parse_flow

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "ivr" / "examples" / "water-utility.toml"

GOOD = """
[flow]
start = "menu"

[nodes.menu]
type = "menu"
prompt = "hello"
choices = { "1" = "bye" }
default = "bye"

[nodes.bye]
type = "hangup"
"""


def problems(text: str, **kwargs: object) -> list[Problem]:
    flow, found = compile_flow(text, source="t.toml", **kwargs)  # type: ignore[arg-type]
    assert (flow is None) == bool(found)
    return found


def only(text: str, **kwargs: object) -> Problem:
    found = problems(text, **kwargs)
    assert len(found) == 1, found
    return found[0]


def test_a_good_flow_compiles() -> None:
    flow = parse_flow(GOOD, source="t.toml")
    assert flow.name == "t.toml"
    assert set(flow.nodes) == {"menu", "bye"}
    assert problems(GOOD) == []


def test_the_example_is_clean_and_uses_every_node_type() -> None:
    assert ivr.check_files(EXAMPLE) == []
    flow = ivr.load_flow(EXAMPLE)
    assert {type(n).__name__ for n in flow.nodes.values()} == {
        cls.__name__ for cls in ivr.NODE_TYPES.values()}
    assert flow.queues() == {"billing", "repairs", "complaints", "general"}
    assert flow.catalogue is not None
    assert "welcome" in flow.catalogue
    assert flow.prompt_text("welcome") == "Welcome to City Water."


def test_unknown_node_type() -> None:
    p = only(GOOD.replace('type = "hangup"', 'type = "hang-up"'))
    assert (p.source, p.node) == ("t.toml", "bye")
    assert "unknown node type 'hang-up'" in p.problem
    assert "hangup" in p.problem


def test_missing_node_type() -> None:
    p = only(GOOD.replace('type = "hangup"', 'cause = "x"'))
    assert p.node == "bye"
    assert p.problem.startswith("type: missing key")


def test_unknown_key_names_the_key_and_the_known_ones() -> None:
    p = only(GOOD.replace('default = "bye"', 'default = "bye"\ntimeout = 5'))
    assert p.node == "menu"
    assert p.problem.startswith("timeout: unknown key 'timeout'")
    assert "timeout_s" in p.problem


def test_unknown_key_in_the_flow_table_and_at_the_top() -> None:
    found = problems(GOOD.replace('start = "menu"', 'start = "menu"\nbegin = "x"')
                     + "\n[extra]\na = 1\n")
    assert {(p.node, p.problem.split(":")[0]) for p in found} == {
        (FLOW, "unknown top-level key 'extra'; a flow file has [flow] and [nodes.ID] tables"),
        (FLOW, "flow.begin"),
    }


def test_missing_key() -> None:
    p = only(GOOD.replace('prompt = "hello"\n', ""))
    assert (p.node, p.problem) == ("menu", "prompt: missing key")


def test_missing_target() -> None:
    p = only(GOOD.replace('choices = { "1" = "bye" }', 'choices = { "1" = "by" }'))
    assert p.node == "menu"
    assert p.problem.startswith("choices.1: no node 'by'")


def test_missing_start() -> None:
    found = problems(GOOD.replace('start = "menu"', 'start = "menuu"'))
    assert Problem("t.toml", FLOW, "start: no node 'menuu'; the nodes are bye, menu") in found


def test_unreachable_node() -> None:
    text = GOOD + '\n[nodes.orphan]\ntype = "play"\nprompt = "x"\nnext = "bye"\n'
    p = only(text)
    assert p.node == "orphan"
    assert p.problem == "unreachable: no path from the start 'menu' leads here"


def test_on_step_limit_counts_as_a_way_in() -> None:
    text = (GOOD.replace('start = "menu"', 'start = "menu"\non_step_limit = "orphan"')
            + '\n[nodes.orphan]\ntype = "play"\nprompt = "x"\nnext = "bye"\n')
    assert problems(text) == []


def test_loop_with_no_caller_input() -> None:
    text = """
[flow]
start = "a"
[nodes.a]
type = "play"
prompt = "x"
next = "b"
[nodes.b]
type = "set"
data = { k = 1 }
next = "c"
[nodes.c]
type = "branch"
cases = [{ var = "k", equals = 2, next = "end" }]
default = "a"
[nodes.end]
type = "hangup"
"""
    p = only(text)
    assert p.node == "a"
    assert p.problem.startswith("loop with no caller input: a -> b -> c -> a")


def test_a_self_loop_is_a_loop() -> None:
    text = """
[flow]
start = "a"
[nodes.a]
type = "lookup"
source = "s"
key = "k"
next = "end"
fallback = "a"
[nodes.end]
type = "hangup"
"""
    assert only(text).problem.startswith("loop with no caller input: a -> a")


def test_a_menu_default_that_leads_back_is_a_loop_but_its_choices_are_not() -> None:
    # Pressing 9 to hear the menu again is caller input; going round after every timeout is not.
    text = """
[flow]
start = "hello"
[nodes.hello]
type = "play"
prompt = "x"
next = "menu"
[nodes.menu]
type = "menu"
prompt = "m"
choices = { "9" = "hello", "1" = "end" }
default = "DEFAULT"
[nodes.end]
type = "hangup"
"""
    assert problems(text.replace("DEFAULT", "end")) == []
    p = only(text.replace("DEFAULT", "hello"))
    assert p.problem.startswith("loop with no caller input: hello -> menu -> hello")


def test_a_loop_through_a_queue_is_waiting_not_spinning() -> None:
    text = """
[flow]
start = "q"
[nodes.q]
type = "queue"
queue = "billing"
max_wait_s = 60
on_max_wait = "sorry"
[nodes.sorry]
type = "play"
prompt = "still-busy"
next = "q"
"""
    assert problems(text) == []


def test_prompts_missing_from_the_catalogue() -> None:
    catalogue = {"hello": ivr.PromptModel(text="Hi")}
    text = GOOD.replace('default = "bye"', 'default = "bye"\ninvalid_prompt = "oops"')
    text = text.replace('type = "hangup"', 'type = "hangup"\nprompt = "goodbye"')
    found = problems(text, catalogue=catalogue, catalogue_name="p.toml")
    assert found == [
        Problem("t.toml", "menu", "invalid_prompt: prompt 'oops' is not in the catalogue p.toml"),
        Problem("t.toml", "bye", "prompt: prompt 'goodbye' is not in the catalogue p.toml"),
    ]
    assert problems(GOOD, catalogue=catalogue) == []


def test_every_problem_is_reported_not_just_the_first() -> None:
    text = """
[flow]
start = "menu"
[nodes.menu]
type = "menu"
prompt = "hello"
choices = { "1" = "nowhere", "x" = "bye" }
retries = 99
[nodes.bye]
type = "hangup"
colour = "red"
[nodes.lost]
type = "teleport"
[nodes.unused]
type = "play"
prompt = "x"
next = "bye"
"""
    found = problems(text)
    by_node = {(p.node, p.problem.split(":")[0]) for p in found}
    assert by_node == {
        ("menu", "choices"),  # 'x' is not a keypad key
        ("menu", "retries"),
        ("bye", "colour"),
        ("lost", "type"),
        ("lost", "unreachable"),
        ("unused", "unreachable"),
    }
    with pytest.raises(FlowError) as info:
        parse_flow(text, source="t.toml")
    assert info.value.problems == tuple(found)
    assert f"(and {len(found) - 1} more)" in str(info.value)


@pytest.mark.parametrize(("change", "node", "fragment"), [
    ({"max_digits = 4": "max_digits = 4\nmin_digits = 6"}, "digits",
     "min_digits (6) is more than max_digits (4)"),
    ({"max_digits = 4": 'max_digits = 4\npattern = "[0-9"'}, "digits",
     "pattern: bad regular expression '[0-9'"),
    ({"max_digits = 4": 'max_digits = 4\nterminator = "1"'}, "digits", "terminator"),
    ({'variable = "n"': 'variable = "9lives"'}, "digits", "not a variable name"),
    ({'next = "q"': 'next = "q"\ntimeout_s = 0'}, "digits", "timeout_s"),
    ({"max_wait_s = 30\n": ""}, "q", "max_wait_s and on_max_wait go together"),
    ({'queue = "billing"': 'queue = "billing"\nskills = { billing = 11 }'}, "q", "skills"),
    ({'queue = "billing"': 'queue = "billing"\nannounce = ["weather"]'}, "q", "announce"),
])
def test_node_key_errors(change: dict[str, str], node: str, fragment: str) -> None:
    text = """
[flow]
start = "digits"
[nodes.digits]
type = "collect"
prompt = "p"
variable = "n"
max_digits = 4
next = "q"
[nodes.q]
type = "queue"
queue = "billing"
max_wait_s = 30
on_max_wait = "end"
[nodes.end]
type = "hangup"
"""
    assert problems(text) == []
    for old, new in change.items():
        text = text.replace(old, new)
    found = problems(text)
    assert found
    assert all(p.node == node for p in found), found
    assert any(fragment in p.problem for p in found), found


def test_branch_case_needs_a_test() -> None:
    text = """
[flow]
start = "b"
[nodes.b]
type = "branch"
cases = [{ var = "x", next = "end" }]
default = "end"
[nodes.end]
type = "hangup"
"""
    p = only(text)
    assert p.node == "b"
    assert "a case needs a test" in p.problem


def test_syntax_error_is_one_problem() -> None:
    p = only("[flow\nstart = 1")
    assert p.node == FLOW
    assert p.problem.startswith("syntax:")


def test_missing_flow_table_and_nodes() -> None:
    assert {p.problem.split(" ")[0] for p in problems("x = 1")} == {
        "unknown", "missing", "no"}


# -- files -----------------------------------------------------------------------------------


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_catalogue_named_by_the_flow_is_checked(tmp_path: Path) -> None:
    write(tmp_path / "p.toml", '[prompts]\nhello = "Hello"\n')
    flow_file = write(tmp_path / "f.toml", GOOD.replace(
        'start = "menu"', 'start = "menu"\nprompts = "p.toml"').replace(
        'type = "hangup"', 'type = "hangup"\nprompt = "bye-bye"'))
    found = ivr.check_files(flow_file)
    assert found == [Problem(str(flow_file), "bye", f"prompt: prompt 'bye-bye' is not in the "
                             f"catalogue {tmp_path / 'p.toml'}")]
    write(tmp_path / "p.toml", '[prompts]\nhello = "Hello"\nbye-bye = { text = "Bye" }\n')
    flow = ivr.load_flow(flow_file)
    assert flow.name == "f"
    assert flow.prompt_text("bye-bye") == "Bye"


def test_broken_or_missing_catalogue(tmp_path: Path) -> None:
    flow_file = write(tmp_path / "f.toml", GOOD.replace(
        'start = "menu"', 'start = "menu"\nprompts = "p.toml"'))
    found = ivr.check_files(flow_file)
    assert [(p.source, p.node) for p in found] == [(str(flow_file), FLOW),
                                                   (str(tmp_path / "p.toml"), FLOW)]
    assert "prompts not checked" in found[0].problem
    assert "cannot read" in found[1].problem
    write(tmp_path / "p.toml", "[prompts]\nhello = 3\n")
    found = ivr.check_files(flow_file)
    assert found[0].source == str(flow_file)
    assert found[0].node == FLOW
    assert found[1].source == str(tmp_path / "p.toml")


def test_map_file_and_numbers(tmp_path: Path) -> None:
    write(tmp_path / "a.toml", GOOD.replace('start = "menu"',
                                            'start = "menu"\nnumbers = ["100", "101"]'))
    write(tmp_path / "b.toml", GOOD)
    site = write(tmp_path / "site.toml", '[numbers]\n"200" = "b.toml"\n"201" = "b.toml"\n')
    flows = ivr.load_flows(tmp_path / "a.toml", site)
    assert sorted(flows.flows) == ["100", "101", "200", "201"]
    b = flows.for_number("200")
    assert b is not None
    assert b is flows.for_number("201")
    assert b.name == "b"
    assert flows.for_number("999") is None
    # the same flow named by a map and directly is one flow, not a clash
    again = ivr.load_flows(site, tmp_path / "b.toml", tmp_path / "a.toml")
    assert again.for_number("200") is again.for_number("201")
    assert sorted(again.flows) == ["100", "101", "200", "201"]


def test_a_number_claimed_twice_and_a_missing_flow(tmp_path: Path) -> None:
    write(tmp_path / "a.toml", GOOD.replace('start = "menu"', 'start = "menu"\nnumbers = ["100"]'))
    site = write(tmp_path / "site.toml", '[numbers]\n"100" = "b.toml"\n"300" = "gone.toml"\n')
    write(tmp_path / "b.toml", GOOD)
    found = ivr.check_files(tmp_path / "a.toml", site)
    assert [(p.source, p.node, p.problem.split(":")[0]) for p in found] == [
        (str(site), "(map)", "numbers.300"),
        (str(site), "(map)", f"number '100' is already the entry of {tmp_path / 'a.toml'}"),
    ]
    with pytest.raises(FlowError):
        ivr.load_flows(tmp_path / "a.toml", site)


def test_an_unreadable_file(tmp_path: Path) -> None:
    (found,) = ivr.check_files(tmp_path / "nope.toml")
    assert found.source == str(tmp_path / "nope.toml")
    assert "cannot read" in found.problem


# -- layering --------------------------------------------------------------------------------


def test_ivr_needs_only_the_standard_library_and_pydantic() -> None:
    # Compared with what was loaded before (site hooks such as editable-install finders).
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import ivr\n"
        "new = {m.split('.')[0] for m in set(sys.modules) - before}\n"
        "print(','.join(sorted(new - set(sys.stdlib_module_names))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    allowed = {"ivr", "pydantic", "pydantic_core", "typing_extensions", "annotated_types",
               "typing_inspection"}
    extra = {m for m in out.stdout.strip().split(",") if m} - allowed
    assert {m for m in extra if not m.startswith("_sysconfigdata")} == set()
