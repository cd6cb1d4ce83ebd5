"""Assertions shared by the CLI tests."""


def assert_user_error(result, *fragments: str) -> None:
    """A non-zero exit with one `Error:` line holding every fragment, and no traceback."""
    assert result.exit_code not in (0, None), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
