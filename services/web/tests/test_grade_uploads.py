"""A cohort's file is cut into its header and grade lines, each with its number in the file (the number the results
page names), blank lines skipped."""

import pytest

from services.web.grade_uploads import NoGrades, parsed


def test_grade_lines_keep_their_line_numbers_in_the_file() -> None:
    text = "\ufefflearner_id;grade;assessed_on\r\nana;1.7;2026-11-20\r\n\r\n  \r\nben;2.0;2026-11-21\r\n"
    assert parsed(text) == ("learner_id;grade;assessed_on", [(2, "ana;1.7;2026-11-20"), (5, "ben;2.0;2026-11-21")])


@pytest.mark.parametrize("text", ["", "learner_id,grade,assessed_on\n", "\n\nlearner_id,grade,assessed_on\n\n"])
def test_a_file_without_grade_lines_is_refused(text: str) -> None:
    with pytest.raises(NoGrades):
        parsed(text)
