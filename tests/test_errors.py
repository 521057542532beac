"""The errors a user can fix: one family, and one line quoted from a library's message."""

from __future__ import annotations

from rnncast import errors


def test_every_fixable_problem_is_an_rnncast_error():
    for cls in (errors.DataError, errors.ConfigError, errors.ArtifactError, errors.OutputError,
                errors.LockError):  # fmt: skip
        assert issubclass(cls, errors.RnncastError)
    assert issubclass(errors.LockError, errors.OutputError)


def test_first_line():
    assert errors.first_line(ValueError("bad thing\nat line 3")) == "bad thing"
    assert errors.first_line(KeyError()) == "KeyError"


def test_a_notice_is_its_text_with_its_facts():
    notice = errors.Notice("left out 2 series: 'a', 'b'", left_out=2, series=["a", "b"])
    assert notice == "left out 2 series: 'a', 'b'" and isinstance(notice, str)
    assert notice.fields == {"left_out": 2, "series": ["a", "b"]}


def test_os_cause_is_the_systems_words_and_number_without_the_path():
    import errno

    error = OSError(errno.ENOSPC, "No space left on device", "/x/f.csv")
    assert errors.os_cause(error) == "No space left on device (Errno 28)"
    assert errors.os_cause(OSError("odd")) == "odd"
