"""The quick cases of ``tests/probe_bad_input.py``, through the command line: no traceback,
no hang, no silent acceptance (the full probe: ``python tests/probe_bad_input.py``)."""

from __future__ import annotations

import probe_bad_input


def test_the_quick_probe_cases_behave(capsys):
    code = probe_bad_input.main(["--fast"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"{sum(c.fast for c in probe_bad_input.CASES)} of" in out


def test_every_probe_case_has_a_distinct_name_and_an_expectation():
    names = [c.name for c in probe_bad_input.CASES]
    assert len(names) == len(set(names))
    assert all(c.code != 0 and c.says or c.code == 0 and c.check or c.server for c in probe_bad_input.CASES)
