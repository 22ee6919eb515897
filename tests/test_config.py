"""Configuration files: valid ones load; every invalid one is refused with a message naming the
file, the entry and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from cti.cli import main
from cti.config import ConfigFileError, load_config, load_settings, parse_config, parse_settings
from cti.core import LegFailure, Switchboard, TargetKind

ROOT = Path(__file__).resolve().parent.parent

BASE = """
[queues.billing]
strategy = "skill"
skills = [{ after = 0, require = { billing = 7 } }, { after = 30, require = { billing = 3 } }]
max_wait_s = 60
on_max_wait = "queue:general"

[queues.general]

[agents.1001]
queues = ["billing", "general"]
skills = { billing = 8 }
"""


def test_example_config_loads_and_builds_a_switchboard() -> None:
    config = load_config(ROOT / "config.example.toml")
    assert config.site == "lyon"
    billing = config.queue("billing")
    assert billing.strategy == "skill"
    assert [s.requirement for s in billing.skills.stages] == [(("billing", 7),), (("billing", 3),)]
    assert billing.on_max_wait.kind is TargetKind.CALLBACK
    assert config.queue("repairs").on_max_wait.value == "general"
    assert config.ring.retry_s[LegFailure.BUSY] == 30
    assert config.numbers["3001"] == "repairs"
    sb = Switchboard(config)
    assert set(sb.queues) == {"billing", "repairs", "general", "vip"}


def test_single_requirement_table_is_one_stage() -> None:
    config = parse_config(BASE.replace(
        'skills = [{ after = 0, require = { billing = 7 } }, { after = 30, require = '
        '{ billing = 3 } }]', "skills = { billing = 4, english = 2 }"))
    stages = config.queue("billing").skills.stages
    assert len(stages) == 1
    assert stages[0].requirement == (("billing", 4), ("english", 2))


@pytest.mark.parametrize(
    ("change", "entry", "words"),
    [
        (('strategy = "skill"', 'strategy = "fastest"'), "queues.billing.strategy",
         "unknown strategy 'fastest'"),
        (('on_max_wait = "queue:general"', 'on_max_wait = "queue:billing"'),
         "queues.billing.on_max_wait", "overflows into itself"),
        (('on_max_wait = "queue:general"', 'on_max_wait = "queue:nowhere"'),
         "queues.billing.on_max_wait", "unknown queue 'nowhere'"),
        (('on_max_wait = "queue:general"', 'on_max_wait = "elsewhere"'),
         "queues.billing.on_max_wait", "unknown target"),
        (("skills = { billing = 8 }", "skills = { billing = 11 }"),
         "agents.1001.skills.billing", "outside 1..10"),
        (("skills = { billing = 8 }", "skills = { billing = 0 }"),
         "agents.1001.skills.billing", "outside 1..10"),
        (("skills = { billing = 8 }", "skills = { billing = 2.5 }"),
         "agents.1001.skills.billing", "integer"),
        (("require = { billing = 7 }", "require = { billing = 12 }"),
         "queues.billing.skills[0].require.billing", "outside 1..10"),
        (("after = 30", "after = 0"), "queues.billing.skills[1].after", "increasing"),
        (("max_wait_s = 60", "max_wait_s = -1"), "queues.billing.max_wait_s", "greater than 0"),
        (("max_wait_s = 60", "max_wiat_s = 60"), "queues.billing.max_wiat_s",
         "Extra inputs are not permitted"),
        (('queues = ["billing", "general"]', 'queues = ["billing", "sales"]'),
         "agents.1001.queues", "unknown queue 'sales'"),
        (("[queues.general]", '[queues.general]\non_full = "callback"'),
         "queues.general.on_full", "callback"),
        (("[queues.general]", '[queues.general]\nhours = { "mon-fir" = ["08:00-18:00"] }'),
         "queues.general.hours.mon-fir", "unknown day"),
        (("[queues.general]", '[queues.general]\ntimezone = "Mars/Olympus"'),
         "queues.general.timezone", "Mars/Olympus"),
        (("[queues.general]", '[queues.general]\nstrategy = "priority"\n'
          'options = { aging_per_minute = -2 }'),
         "queues.general.options.aging_per_minute", ">= 0"),
        (("[queues.general]", '[queues.general]\noptions = { colour = "red" }'),
         "queues.general.options.colour", "no option 'colour'"),
    ],
)
def test_invalid_entries_are_named(change: tuple[str, str], entry: str, words: str) -> None:
    old, new = change
    assert old in BASE
    with pytest.raises(ConfigFileError) as err:
        parse_config(BASE.replace(old, new, 1), source="site.toml")
    assert err.value.entry == entry
    assert words in err.value.problem
    assert str(err.value).startswith(f"site.toml: {entry}: ")


def test_overflow_cycle_names_the_chain() -> None:
    text = BASE.replace("[queues.general]", '[queues.general]\nmax_wait_s = 30\n'
                        'on_max_wait = "queue:billing"')
    with pytest.raises(ConfigFileError) as err:
        parse_config(text, source="site.toml")
    assert err.value.entry == "queues.billing.on_max_wait"
    assert "billing -> general -> billing" in err.value.problem


def test_numbers_must_name_queues() -> None:
    with pytest.raises(ConfigFileError) as err:
        parse_config(BASE + '\n[numbers]\n"3000" = "sales"\n')
    assert err.value.entry == "numbers.3000"


def test_syntax_errors_and_missing_files_are_reported() -> None:
    with pytest.raises(ConfigFileError) as err:
        parse_config("[queues.billing\n", source="broken.toml")
    assert err.value.entry == "(syntax)"
    assert "broken.toml" in str(err.value)
    with pytest.raises(ConfigFileError) as err:
        load_config(ROOT / "no-such-file.toml")
    assert "cannot read" in str(err.value)
    with pytest.raises(ConfigFileError) as err:
        parse_config('site = "x"\n')
    assert err.value.entry == "queues"


def test_cli_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(ROOT / "config.example.toml")]) == 0
    out = capsys.readouterr().out
    assert "4 queues, 3 agents" in out
    assert "billing>=7 then 30s: billing>=3" in out
    bad = tmp_path / "bad.toml"
    bad.write_text(BASE.replace('"skill"', '"fastest"'))
    assert main(["check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}: queues.billing.strategy: unknown strategy 'fastest'" in err


def test_cli_lists_strategies_and_draws_machines(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["strategies"]) == 0
    names = {line.split()[0] for line in capsys.readouterr().out.splitlines()}
    assert {"least-idle", "skill", "priority", "preferred-agent", "random"} <= names
    assert main(["diagram", "agent"]) == 0
    assert "RINGING --> ON_CALL: ANSWER" in capsys.readouterr().out


def test_daemon_settings_take_secrets_from_the_environment() -> None:
    path = Path(__file__).resolve().parent.parent / "config.example.toml"
    settings = load_settings(path, environ={"CTI_BUS_PASSWORD": "s3cret",
                                            "CTI_BUS_USERNAME": "cti"})
    assert settings.bus is not None
    assert (settings.bus.username, settings.bus.password) == ("cti", "s3cret")
    assert "s3cret" not in repr(settings)
    plain = load_settings(path, environ={})
    assert plain.bus is not None
    assert plain.bus.password is None


def test_a_config_names_one_pbx() -> None:
    text = '[queues.q]\n[freeswitch]\nport = 8021\n[sip]\nport = 5060\n'
    with pytest.raises(ConfigFileError, match=r"sip.*one PBX"):
        parse_settings(text, source="site.toml", environ={})
    settings = parse_settings('[queues.q]\n[freeswitch]\npassword = "file"\n',
                              environ={"CTI_FREESWITCH_PASSWORD": "env"})
    assert settings.freeswitch is not None
    assert settings.freeswitch.password == "env"
    assert "env" not in repr(settings.freeswitch)
