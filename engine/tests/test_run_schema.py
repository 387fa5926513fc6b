"""The run schema (run_schema.json) is the one definition of a run's options: the engine's RunConfig,
its flags, its choices and `measure`'s subset follow it; a drift fails here."""
import dataclasses

from sltrain import runconfig, schema
from sltrain.config import INDEX_DTYPES, METHODS
from sltrain.methods import REGISTRY
from sltrain.optim import OPTIMIZERS


def test_every_option_is_a_run_config_field_with_its_default_and_type():
    fields = {f.name: f for f in dataclasses.fields(runconfig.RunConfig)}
    assert list(fields) == list(schema.OPTIONS)
    for name, o in schema.OPTIONS.items():
        assert fields[name].default == o["default"], name
        assert fields[name].type.split(" |")[0] == o["type"], name
        assert ("None" in fields[name].type) == bool(o.get("nullable")), name
        if "choices" in o and o["default"] is not None:
            assert o["default"] in o["choices"], name


def test_every_option_is_a_flag_of_train_and_the_subset_of_measure():
    import argparse

    p = argparse.ArgumentParser()
    runconfig.add_flags(p)
    flags = {a.dest for a in p._actions}
    assert set(schema.OPTIONS) <= flags
    assert set(runconfig.MODEL_FLAGS) == {n for n, o in schema.OPTIONS.items() if o.get("measure")}


def test_choices_come_from_the_schema():
    assert METHODS == schema.choices("method") == tuple(REGISTRY)
    assert INDEX_DTYPES == schema.choices("index_dtype")
    assert OPTIMIZERS == schema.choices("optimizer")
    assert runconfig.CHOICES["precision"] == schema.choices("precision")


def test_each_option_is_modelled_by_the_planner_or_says_why_not():
    for name, o in schema.OPTIONS.items():
        assert ("plan" in o) != ("not_modelled" in o), name
    for o in schema.PLAN_ONLY.values():
        assert o["name"] not in schema.OPTIONS
