"""Report-stage progress lines: the time-left text and at most one line a second."""

import io

import pytest

from src.report.progress import Progress, format_left


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (float("nan"), "?"),
        (float("inf"), "?"),
        (-1.0, "?"),
        (0.0, "<1 s"),
        (0.4, "<1 s"),
        (1.0, "~1 s"),
        (12.4, "~12 s"),
        (89.0, "~89 s"),
        (95.0, "~2 min"),
        (45 * 60, "~45 min"),
        (2 * 3600 + 1800, "~2.5 h"),
    ],
)
def test_format_left(seconds, text):
    assert format_left(seconds) == text


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_time_left_is_the_mean_step_time_times_the_steps_to_go():
    clock = Clock()
    p = Progress("sweep", 10, stream=None, clock=clock)
    assert p.line() == "sweep: 0/10, ? left"
    clock.t += 6.0
    p.step(3)  # 2 s a step, 7 to go
    assert p.left() == pytest.approx(14.0)
    assert p.line() == "sweep: 3/10, ~14 s left"


def test_at_most_one_line_a_second_and_always_the_last():
    clock = Clock()
    out = io.StringIO()
    p = Progress("pictures", 5, stream=out, clock=clock)
    for dt in (0.1, 0.2, 0.3, 1.0, 0.1):  # steps end at 0.1, 0.3, 0.6, 1.6, 1.7 s
        clock.t += dt
        p.step()
    lines = out.getvalue().splitlines()
    assert lines == [
        "pictures: 1/5, <1 s left",
        "pictures: 4/5, <1 s left",
        "pictures: 5/5, done in 1.7 s",
    ]


def test_no_stream_prints_nothing(capsys):
    p = Progress("x", 2, stream=None)
    p.step(2)
    assert capsys.readouterr() == ("", "")
