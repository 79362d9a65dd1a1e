"""Shared pytest options: `--update-outputs` rewrites every generated file (outputs, figures, notebooks)."""

import os

import pytest

from tools.snippet_runner import forbid_network, read_config

# Nothing in the suite may reach a model or dataset hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


forbid_network()  # in-process tests too; subprocess snippets install the same guard


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-outputs",
        action="store_true",
        help="rewrite the generated outputs, figures and notebooks instead of checking them",
    )


@pytest.fixture(scope="session")
def update_outputs(request: pytest.FixtureRequest) -> bool:
    return request.config.getoption("--update-outputs")


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """--update-outputs runs in one process (no pytest-xdist workers): the notebooks must be written after every
    snippet has redrawn its figures, an order that two processes could not keep."""
    if config.getoption("--update-outputs") and getattr(config.option, "numprocesses", None):
        config.option.numprocesses = 0


@pytest.fixture(autouse=True)
def xdist_group_took(request: pytest.FixtureRequest) -> None:
    """A test marked xdist_group must have been scheduled with its group. pytest 9.2 ignores the node ids that
    pytest-xdist 3.8 rewrites to group tests; the tests of a group then spread over both processes and silently
    do their expensive work twice (a page's snippet retrained before its solutions, the model converted twice)."""
    node = request.node
    if getattr(request.config.option, "loadgroup", False) and node.get_closest_marker("xdist_group") \
            and "@" not in node.nodeid:  # loadgroup: set in the workers of --dist loadgroup
        pytest.fail("pytest-xdist did not schedule this test with its xdist_group: install the pytest and "
                    "pytest-xdist versions pinned in pyproject.toml", pytrace=False)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With --update-outputs, write the notebooks last: they embed the figures that the snippet tests rewrite, so
    a notebook written before its snippet ran would keep the old figure and be stale at the next run.

    Otherwise the longest work goes first, so that the two pytest-xdist processes finish together: a snippet that
    starts last and runs two minutes leaves the other process idle for two minutes. The snippets' declared timeouts
    stand in for their cost (the slow ones declare long ones), and the site's builds, one group, come early."""
    if config.getoption("--update-outputs"):
        items.sort(key=lambda item: item.path.name == "test_notebooks.py")  # stable: the rest keep their order
        return
    items.sort(key=lambda item: (-expected_cost(item)[0], expected_cost(item)[1]))  # stable: ties keep their order


def expected_cost(item: pytest.Item) -> tuple[float, bool]:
    """(cost, runs after another): a snippet declared `after=NAME` takes NAME's cost and sorts right after it, so
    the process that runs both (one xdist group) finds NAME's folder ready instead of running NAME first itself."""
    snippet = getattr(item, "callspec", None) and item.callspec.params.get("snippet")
    if item.path.name == "test_snippets.py" and snippet:
        after = read_config(snippet)["after"]
        head = snippet.with_name(f"{after}.py") if after else snippet
        return read_config(head)["timeout"], bool(after)
    return (SITE_BUILDS_COST if item.path.name == "test_site.py" else 0.0), False


SITE_BUILDS_COST = 300.0  # the strict build and the fault builds, about two minutes in one process
