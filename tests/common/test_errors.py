"""Every exception Baraza defines derives from :class:`common.errors.BarazaError`."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

from common.errors import BarazaError
from common.problems import FileProblemsError

PACKAGES = ("common", "surveys", "catalogue", "results", "storage", "handlers", "bot")


def project_exceptions() -> list[type[BaseException]]:
    """Every exception class defined in a module of the production packages."""
    found: list[type[BaseException]] = []
    for package_name in PACKAGES:
        package = importlib.import_module(package_name)
        modules = [package_name]
        modules += [info.name for info in pkgutil.walk_packages(package.__path__, f"{package_name}.")]
        for module_name in modules:
            if ".migrations." in f"{module_name}.":
                continue  # Alembic scripts: run by Alembic, not importable on their own
            module = importlib.import_module(module_name)
            for _, value in inspect.getmembers(module, inspect.isclass):
                if issubclass(value, BaseException) and value.__module__ == module_name:
                    found.append(value)
    return found


def test_the_walk_finds_the_exceptions_of_every_layer() -> None:
    names = {f"{error.__module__}.{error.__qualname__}" for error in project_exceptions()}
    for expected in (
        "common.problems.FileProblemsError",
        "surveys.expressions.ExpressionError",
        "catalogue.errors.CatalogueError",
        "storage.errors.StorageError",
        "bot.config.ConfigError",
        "bot.channels.whatsapp.graph.GraphError",
    ):
        assert expected in names


@pytest.mark.parametrize("error", project_exceptions(), ids=lambda error: f"{error.__module__}.{error.__qualname__}")
def test_every_project_exception_derives_from_the_root(error: type[BaseException]) -> None:
    assert issubclass(error, BarazaError)


def test_a_file_error_is_caught_by_the_root_with_its_file_and_line() -> None:
    with pytest.raises(BarazaError, match=r"^office/x\.yaml:3: a problem$"):
        raise FileProblemsError.at("office/x.yaml", 3, "a problem")
