"""evalplus' output judgement (eval/__init__.py unsafe_execute), on hand-made cases."""

import re

from harness.execution import values
from harness.benchmarks.evalplus.groundtruth import Expected


def judge(problem, output, expected, arguments=(), atol=None):
    decoded = values.decode(values.encode(output))  # outputs always travel through the transport
    return problem.outputs_match(list(arguments), decoded, expected, problem.atol if atol is None else atol)


def test_exact_match_uses_python_equality(humaneval):
    problem = humaneval.problems["HumanEval/0"]
    assert judge(problem, True, True) and judge(problem, 2, 2.0) and not judge(problem, [1, 2], (1, 2))


def test_float_tolerance_needs_same_type_and_length(humaneval):
    problem = humaneval.problems["HumanEval/4"]  # mean_absolute_deviation, atol 1e-6 in evalplus' data
    assert judge(problem, 1.0 + 1e-9, 1.0, atol=1e-6)
    assert not judge(problem, 1.0 + 1e-3, 1.0, atol=1e-6)
    assert not judge(problem, (1.0, 2.0), [1.0, 2.0], atol=1e-6)
    assert not judge(problem, [1.0], [1.0, 2.0], atol=1e-6)
    assert not judge(problem, 1.0 + 1e-9, 1.0, atol=0)  # without tolerance, inexact floats fail


def test_zero_atol_becomes_1e_6_once_a_float_was_expected():
    expected = Expected(b"[[1],[2],[3]]", [b"1", b"2.5", b"3"], [0.0] * 3, first_float=1)
    assert [expected.atol_at(i, 0) for i in range(3)] == [0, 1e-6, 1e-6]
    assert expected.atol_at(0, 1e-4) == 1e-4


def test_mbpp_set_equality_tasks(mbpp):
    problem = mbpp.problems["Mbpp/2"]  # similar_elements
    assert judge(problem, {4, 5}, (5, 4)) and judge(problem, [5, 4], (4, 5)) and not judge(problem, [4], (4, 5))


def test_mbpp_not_none_tasks_compare_presence(mbpp):
    problem = mbpp.problems[next(t for t, p in mbpp.problems.items() if p.entry_point == "text_match_three")]
    match = re.search("b", "abbb")
    assert judge(problem, match, True)  # an re.Match travels as an opaque value: present
    assert not judge(problem, None, True) and judge(problem, None, False)
    assert judge(problem, True, True) and not judge(problem, False, True)


def test_find_zero_accepts_any_root_within_atol(humaneval):
    problem = humaneval.problems["HumanEval/32"]
    xs = [-6, 11, -6, 1]  # (x-1)(x-2)(x-3)
    for root in (1.0, 2.0, 3.0):
        assert judge(problem, root, None, arguments=[xs], atol=1e-4)
    assert not judge(problem, 1.5, None, arguments=[xs], atol=1e-4)


def test_opaque_output_never_matches(humaneval):
    class Anything:
        def __eq__(self, other):
            return True

    assert not judge(humaneval.problems["HumanEval/0"], Anything(), True)
