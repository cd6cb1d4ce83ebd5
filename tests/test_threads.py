"""CPU threads: --threads, $CHARMONY_THREADS, torchrun's $OMP_NUM_THREADS, and a default that leaves a CPU free."""

import pytest
import torch

from charmony.pipeline.system.errors import ConfigError
from charmony.pipeline.run.config import SampleConfig
from charmony.pipeline.sampling.sample import sample
from charmony.pipeline.system.threads import check_threads, default_threads, thread_limit, threads_to_use
from assertions import assert_user_error


@pytest.mark.parametrize(("cpus", "threads"), [(1, 1), (2, 1), (3, 2), (8, 7), (64, 63)])
def test_the_default_leaves_a_cpu_free_above_two(cpus, threads):
    assert default_threads(cpus) == threads


def test_the_setting_comes_before_the_environment_and_processes_share_the_default(monkeypatch):
    monkeypatch.delenv("CHARMONY_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr("charmony.pipeline.system.threads.available_cpus", lambda: 9)
    assert threads_to_use(None) == 8 and threads_to_use(None, processes=2) == 4 and threads_to_use(None, processes=16) == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # as torchrun sets it for its processes
    assert threads_to_use(None) == 3
    monkeypatch.setenv("CHARMONY_THREADS", "5")
    assert threads_to_use(None) == 5 and threads_to_use(2) == 2
    monkeypatch.setenv("CHARMONY_THREADS", "0")
    with pytest.raises(ConfigError, match=r"\$CHARMONY_THREADS=0: give a whole number of threads, at least 1"):
        threads_to_use(None)


def test_sample_computes_with_the_threads_it_is_given(trained_run):
    before = torch.get_num_threads()
    try:
        sample(trained_run, SampleConfig(num_samples=1, max_length=5, seed=1, device="cpu", threads=2))
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ConfigError, match="--threads must be at least 1"):
        SampleConfig(threads=0)


def test_the_command_line_refuses_no_threads(invoke, trained_run):
    result = invoke("sample", "rhymes", "--runs-dir", trained_run.dir.parent, "--threads", "0")
    assert result.exit_code == 2 and "'--threads': 0 is not in the range 1<=x<=" in result.output


@pytest.mark.parametrize("threads", ["100000", str(2**63)])
def test_the_command_line_refuses_more_threads_than_four_per_cpu(invoke, trained_run, threads):
    result = invoke("sample", "rhymes", "--runs-dir", trained_run.dir.parent, "--threads", threads)
    assert_user_error(result, "'--threads'", f"{threads} is not in the range 1<=x<={thread_limit()}")


def test_the_thread_limit_holds_for_the_python_api_and_the_environment(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 3)
    assert thread_limit() == 12 and threads_to_use(12) == 12
    with pytest.raises(ConfigError, match=r"--threads must be from 1 to 12 \(4 per CPU of this machine's 3\), not 13"):
        threads_to_use(13)
    monkeypatch.setenv("CHARMONY_THREADS", "100000")
    with pytest.raises(ConfigError, match=r"\$CHARMONY_THREADS must be from 1 to 12 .*not 100,000"):
        threads_to_use(None)
    with pytest.raises(ConfigError, match="--nproc must be from 1 to 12"):
        check_threads("--nproc", 5000)
