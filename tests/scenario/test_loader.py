import logging

import numpy as np
import pytest
import yaml

from assume.errors import ConfigurationError, InputDataError
from assume.scenario.loader import load_config_file, load_scenario
from assume.timeutil import parse_datetime

MARKET = {
    "operator": "EOM_operator",
    "product_type": "energy",
    "products": [{"duration": "1h", "count": 1, "first_delivery": "1h"}],
    "opening_frequency": "1h",
    "opening_duration": "1h",
    "market_mechanism": "pay_as_clear",
}
CASE = {
    "start_date": "2019-01-01 00:00",
    "end_date": "2019-01-01 03:00",
    "time_step": "1h",
    "markets_config": {"EOM": MARKET},
}
EXCHANGE_UNITS = "name,bidding_EOM,unit_operator\nDE_FR,exchange_energy_naive,exch\n"
HOURS = ["2019-01-01 00:00", "2019-01-01 01:00", "2019-01-01 02:00", "2019-01-01 03:00"]
FILES = {
    "powerplant_units.csv": (
        "name,technology,bidding_EOM,fuel_type,emission_factor,max_power,min_power,efficiency,"
        "additional_cost,unit_operator\n"
        "coal1,hard coal,powerplant_energy_naive,hard coal,0.82,400,100,0.4,2,Operator 1\n"
        "wind1,wind onshore,powerplant_energy_naive,renewable,0,300,0,1,0,Operator 2\n"
    ),
    "demand_units.csv": (
        "name,technology,bidding_EOM,max_power,min_power,unit_operator\n"
        "demand1,inflex_demand,demand_energy_naive,1500,0,eom_de\n"
    ),
    "demand_df.csv": "datetime,demand1\n"
    + "".join(f"{t},{500 + i}\n" for i, t in enumerate(HOURS)),
    "fuel_prices_df.csv": "fuel,hard coal,co2\nprice,10.3,25\n",
}


def make_scenario(tmp_path, cases=None, files=None, name="example", **extra_files):
    folder = tmp_path / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(cases or {"base": CASE}, sort_keys=False))
    for file_name, text in {**FILES, **(files or {}), **extra_files}.items():
        if text is not None:
            (folder / file_name).write_text(text)
    return folder


def units_by_name(spec):
    return {unit.name: unit for unit in spec.units}


def test_loads_a_scenario_folder(tmp_path):
    make_scenario(tmp_path)
    spec = load_scenario(tmp_path, "example")
    assert (spec.scenario, spec.case, spec.simulation_id) == ("example", "base", "example_base")
    assert spec.start == parse_datetime("2019-01-01 00:00")
    assert (spec.time_step, spec.index.length) == (3600, 4)
    assert (spec.seed, spec.save_frequency_hours) == (42, 48.0)  # ASSUME's defaults
    assert spec.markets == {"EOM": MARKET}
    units = units_by_name(spec)
    assert [u.unit_type for u in spec.units] == ["power_plant", "power_plant", "demand"]
    coal = units["coal1"]
    assert coal.operator == "Operator 1"
    assert coal.bidding == {"EOM": "powerplant_energy_naive"}
    assert coal.params["max_power"] == 400.0 and coal.params["technology"] == "hard coal"
    assert coal.params["ramp_up"] is None and coal.params["node"] == "node0"
    assert coal.series["fuel_price"].tolist() == [10.3] * 4
    assert coal.series["co2_price"].tolist() == [25.0] * 4
    assert coal.series["availability"].tolist() == [1.0] * 4
    assert units["wind1"].series["fuel_price"].tolist() == [0.0] * 4
    assert spec.fuel_prices["co2"].tolist() == [25.0] * 4
    assert spec.forecasts == {}


def test_series_are_read_only(tmp_path):
    make_scenario(tmp_path)
    spec = load_scenario(tmp_path, "example")
    with pytest.raises(ValueError):
        spec.units[0].series["availability"][0] = 0.5


def test_demand_is_made_negative_whatever_the_sign(tmp_path):
    make_scenario(
        tmp_path,
        files={
            "demand_units.csv": "name,technology,bidding_EOM,max_power,min_power,price,"
            "unit_operator\ndemand1,inflex,demand_energy_naive,-1500,-10,,eom_de\n",
            "demand_df.csv": "datetime,demand1\n"
            + "".join(f"{t},{-1 * (i + 1)}\n" for i, t in enumerate(HOURS)),
        },
    )
    demand = units_by_name(load_scenario(tmp_path, "example"))["demand1"]
    assert demand.series["volume"].tolist() == [-1, -2, -3, -4]
    assert (demand.params["max_power"], demand.params["min_power"]) == (-1500.0, -10.0)
    assert demand.params["price"] == 3000.0


def test_exchange_signs_and_defaults(tmp_path):
    exchanges = "datetime,DE_FR_import,DE_FR_export\n" + "".join(f"{t},-100,50\n" for t in HOURS)
    make_scenario(
        tmp_path,
        files={
            "exchange_units.csv": EXCHANGE_UNITS,
            "exchanges_df.csv": exchanges,
        },
    )
    exchange = units_by_name(load_scenario(tmp_path, "example"))["DE_FR"]
    assert exchange.series["import"].tolist() == [100.0] * 4
    assert exchange.series["export"].tolist() == [-50.0] * 4
    assert exchange.params["price_import"] == 0.0 and exchange.params["price_export"] == 2999.0
    assert exchange.params["technology"] == "exchange"


def test_exchange_without_its_column(tmp_path):
    make_scenario(
        tmp_path,
        files={
            "exchange_units.csv": EXCHANGE_UNITS,
            "exchanges_df.csv": "datetime,DE_FR_import\n" + "".join(f"{t},1\n" for t in HOURS),
        },
    )
    with pytest.raises(
        InputDataError, match=r"unit 'DE_FR' needs the column 'DE_FR_export' in .*exchanges_df.csv"
    ):
        load_scenario(tmp_path, "example")


def test_storage_defaults_and_charge_sign(tmp_path):
    make_scenario(
        tmp_path,
        files={
            "storage_units.csv": "name,technology,bidding_EOM,max_power_charge,max_power_discharge,"
            "capacity,unit_operator\nbattery,li-ion,storage_energy_heuristic_flexable,100,90,400,st\n"
        },
    )
    storage = units_by_name(load_scenario(tmp_path, "example"))["battery"]
    assert storage.params["max_power_charge"] == -100.0
    assert storage.params["max_power_discharge"] == 90.0
    assert storage.params["efficiency_charge"] == 1.0 and storage.params["max_soc"] == 1.0
    assert storage.params["initial_soc"] == 0.0
    assert storage.series["availability"].tolist() == [1.0] * 4


def test_availability_column_and_range(tmp_path):
    availability = "datetime,wind1\n" + "".join(
        f"{t},{v}\n" for t, v in zip(HOURS, [0.1, 0.2, "", 1], strict=True)
    )
    make_scenario(tmp_path, files={"availability_df.csv": availability})
    units = units_by_name(load_scenario(tmp_path, "example"))
    assert units["wind1"].series["availability"].tolist() == [0.1, 0.2, 1.0, 1.0]
    assert units["coal1"].series["availability"].tolist() == [1.0] * 4
    bad = "datetime,wind1\n" + "".join(
        f"{t},{v}\n" for t, v in zip(HOURS, [0.1, 1.5, 1, 1], strict=True)
    )
    make_scenario(tmp_path, files={"availability_df.csv": bad})
    with pytest.raises(
        InputDataError, match=r"availability_df.csv, column 'wind1': value 1.5 at 2019-01-01 01:00"
    ):
        load_scenario(tmp_path, "example")


def test_fuel_prices_as_time_series(tmp_path):
    prices = "datetime,hard coal,co2\n" + "".join(
        f"{t},{10 + i},{20 + i}\n" for i, t in enumerate(HOURS)
    )
    make_scenario(tmp_path, files={"fuel_prices_df.csv": prices})
    coal = units_by_name(load_scenario(tmp_path, "example"))["coal1"]
    assert coal.series["fuel_price"].tolist() == [10, 11, 12, 13]
    assert coal.series["co2_price"].tolist() == [20, 21, 22, 23]


def test_fuel_without_price_costs_zero_with_a_warning(tmp_path, caplog):
    make_scenario(tmp_path, files={"fuel_prices_df.csv": "fuel,oil\nprice,40\n"})
    with caplog.at_level(logging.WARNING):
        coal = units_by_name(load_scenario(tmp_path, "example"))["coal1"]
    assert coal.series["fuel_price"].tolist() == [0.0] * 4
    assert coal.series["co2_price"].tolist() == [0.0] * 4
    assert "fuel 'hard coal' of coal1 has no price" in caplog.text
    assert "no 'co2' column" in caplog.text


def test_forecasts(tmp_path):
    forecasts = "datetime,price_EOM\n" + "".join(f"{t},{50 + i}\n" for i, t in enumerate(HOURS))
    make_scenario(tmp_path, files={"forecasts_df.csv": forecasts})
    assert load_scenario(tmp_path, "example").forecasts["price_EOM"].tolist() == [50, 51, 52, 53]


def test_missing_optional_files_are_skipped(tmp_path):
    make_scenario(
        tmp_path,
        files={"fuel_prices_df.csv": None, "demand_units.csv": None, "demand_df.csv": None},
    )
    spec = load_scenario(tmp_path, "example")
    assert [u.name for u in spec.units] == ["coal1", "wind1"]
    assert spec.fuel_prices == {}


def test_files_disabled_by_null_and_renamed(tmp_path):
    case = {**CASE, "demand_units": None, "fuel_prices_df": "prices.csv"}
    make_scenario(tmp_path, cases={"base": case}, files={"prices.csv": "fuel,hard coal\nprice,7\n"})
    spec = load_scenario(tmp_path, "example")
    assert [u.unit_type for u in spec.units] == ["power_plant", "power_plant"]
    assert units_by_name(spec)["coal1"].series["fuel_price"].tolist() == [7.0] * 4


def test_configured_file_that_does_not_exist(tmp_path):
    make_scenario(tmp_path, cases={"base": {**CASE, "demand_df": "nothere.csv"}})
    with pytest.raises(
        ConfigurationError, match="demand_df names .*nothere.csv, which does not exist"
    ):
        load_scenario(tmp_path, "example")


def test_no_units_at_all(tmp_path):
    case = {**CASE, "powerplant_units": None}
    make_scenario(tmp_path, cases={"base": case}, files={"demand_units.csv": None})
    with pytest.raises(InputDataError, match="no units; expected at least one of"):
        load_scenario(tmp_path, "example")


def test_demand_without_its_series(tmp_path):
    make_scenario(tmp_path, files={"demand_df.csv": None})
    with pytest.raises(
        InputDataError,
        match=r"unit 'demand1' needs the column 'demand1' in .*demand_df.csv \(not found\)",
    ):
        load_scenario(tmp_path, "example")


def test_duplicate_unit_names(tmp_path):
    plants = (
        FILES["powerplant_units.csv"] + "coal1,hard coal,,hard coal,0.82,400,100,0.4,2,Operator 1\n"
    )
    make_scenario(tmp_path, files={"powerplant_units.csv": plants})
    with pytest.raises(
        InputDataError,
        match=r"duplicate unit name 'coal1' in file .*powerplant_units.csv lines 2 and 4",
    ):
        load_scenario(tmp_path, "example")


def test_duplicate_unit_names_across_files(tmp_path):
    demand = FILES["demand_units.csv"].replace("demand1", "coal1")
    series = FILES["demand_df.csv"].replace("demand1", "coal1")
    make_scenario(tmp_path, files={"demand_units.csv": demand, "demand_df.csv": series})
    with pytest.raises(
        InputDataError,
        match="duplicate unit name 'coal1' in files .*powerplant_units.csv and .*demand_units.csv",
    ):
        load_scenario(tmp_path, "example")


def test_nan_in_demand_series(tmp_path):
    series = FILES["demand_df.csv"].replace("501", "nan")
    make_scenario(tmp_path, files={"demand_df.csv": series})
    with pytest.raises(InputDataError) as error:
        load_scenario(tmp_path, "example")
    message = str(error.value)
    assert "demand_df.csv" in message and "'demand1'" in message and "2019-01-01 01:00" in message


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("max_power", "-400", "at least 0"),
        ("efficiency", "0", "above 0"),
        ("efficiency", "1.2", "between 0 and 1"),
        ("min_power", "500", "at most max_power"),
    ],
)
def test_invalid_power_plant_values(tmp_path, column, value, expected):
    header, coal, wind = FILES["powerplant_units.csv"].splitlines()
    cells = coal.split(",")
    cells[header.split(",").index(column)] = value
    make_scenario(
        tmp_path, files={"powerplant_units.csv": "\n".join([header, ",".join(cells), wind]) + "\n"}
    )
    with pytest.raises(InputDataError) as error:
        load_scenario(tmp_path, "example")
    message = str(error.value)
    assert "powerplant_units.csv" in message and "'coal1'" in message
    assert repr(column) in message and expected in message


def test_negative_storage_capacity(tmp_path):
    storage = (
        "name,technology,max_power_charge,max_power_discharge,capacity,unit_operator\n"
        "battery,li-ion,100,100,-5,st\n"
    )
    make_scenario(tmp_path, files={"storage_units.csv": storage})
    with pytest.raises(
        InputDataError, match=r"storage_units.csv: row 'battery' \(line 2\), column 'capacity'"
    ):
        load_scenario(tmp_path, "example")


def test_missing_required_column(tmp_path):
    make_scenario(tmp_path, files={"demand_units.csv": "name,technology,unit_operator\nd,x,op\n"})
    with pytest.raises(InputDataError, match=r"demand_units.csv: column 'max_power' is missing"):
        load_scenario(tmp_path, "example")


def test_bidding_for_unknown_market_is_ignored_with_a_warning(tmp_path, caplog):
    plants = FILES["powerplant_units.csv"].replace("bidding_EOM", "bidding_EOM,bidding_CRM")
    plants = plants.replace("powerplant_energy_naive,", "powerplant_energy_naive,crm_strategy,")
    make_scenario(tmp_path, files={"powerplant_units.csv": plants})
    with caplog.at_level(logging.WARNING):
        spec = load_scenario(tmp_path, "example")
    assert units_by_name(spec)["coal1"].bidding == {"EOM": "powerplant_energy_naive"}
    assert caplog.text.count("'bidding_CRM' names no market") == 1


def test_empty_bidding_cell_means_no_bids(tmp_path):
    plants = FILES["powerplant_units.csv"].replace(
        "wind onshore,powerplant_energy_naive", "wind onshore,"
    )
    make_scenario(tmp_path, files={"powerplant_units.csv": plants})
    assert units_by_name(load_scenario(tmp_path, "example"))["wind1"].bidding == {}


def test_unknown_columns_are_kept_typed(tmp_path):
    plants = FILES["powerplant_units.csv"].replace("unit_operator\n", "unit_operator,lat,owner\n")
    plants = plants.replace("Operator 1\n", "Operator 1,52.5,x\n").replace(
        "Operator 2\n", "Operator 2,,y\n"
    )
    make_scenario(tmp_path, files={"powerplant_units.csv": plants})
    units = units_by_name(load_scenario(tmp_path, "example"))
    assert (units["coal1"].params["lat"], units["wind1"].params["lat"]) == (52.5, None)
    assert units["wind1"].params["owner"] == "y"
    assert "unit_operator" not in units["coal1"].params


def test_first_case_is_the_default_and_other_keys_are_skipped(tmp_path):
    cases = {
        "distributed": {"transport": "tcp"},
        "first": {**CASE, "learning_config": {"a": 1}},
        "second": {**CASE, "end_date": "2019-01-01 01:00", "simulation_id": "custom", "seed": None},
    }
    make_scenario(tmp_path, cases=cases)
    first = load_scenario(tmp_path, "example")
    assert first.case == "first" and first.extra == {"learning_config": {"a": 1}}
    second = load_scenario(tmp_path, "example", "second")
    assert (second.simulation_id, second.index.length, second.seed) == ("custom", 2, None)


def test_unknown_case_lists_known_cases(tmp_path):
    make_scenario(tmp_path, cases={"distributed": {"x": 1}, "base": CASE, "high": CASE})
    with pytest.raises(ConfigurationError, match="no study case 'low'; known cases: base, high"):
        load_scenario(tmp_path, "example", "low")


def test_unknown_scenario_lists_known_scenarios(tmp_path):
    make_scenario(tmp_path)
    with pytest.raises(ConfigurationError, match="scenarios in .*: example"):
        load_scenario(tmp_path, "missing")


def test_input_path_relative_to_the_config_file(tmp_path):
    data = make_scenario(tmp_path, name="data")
    (data / "config.yaml").unlink()
    config = tmp_path / "configs" / "config.yaml"
    config.parent.mkdir()
    config.write_text(yaml.safe_dump({"base": {**CASE, "input_path": "../data"}}))
    spec = load_config_file(config)
    assert spec.input_path.resolve() == data.resolve()
    assert spec.simulation_id == "data_base"  # named after the folder holding the CSVs
    assert len(spec.units) == 3
    assert load_config_file(config, scenario="mine").simulation_id == "mine_base"


def test_case_settings(tmp_path):
    case = {**CASE, "save_frequency_hours": 0, "bidding_strategy_params": {"eom_foresight": "12h"}}
    make_scenario(tmp_path, cases={"base": case})
    spec = load_scenario(tmp_path, "example")
    assert spec.save_frequency_hours is None
    assert spec.bidding_params == {"eom_foresight": "12h"}
    make_scenario(tmp_path, cases={"base": {**CASE, "save_frequency_hours": "often"}})
    with pytest.raises(ConfigurationError, match="save_frequency_hours"):
        load_scenario(tmp_path, "example")


def test_missing_case_keys(tmp_path):
    case = {key: value for key, value in CASE.items() if key != "time_step"}
    make_scenario(tmp_path, cases={"base": case})
    with pytest.raises(ConfigurationError, match=r"case 'base': time_step is missing"):
        load_scenario(tmp_path, "example")
    make_scenario(tmp_path, cases={"base": {**CASE, "markets_config": None}})
    with pytest.raises(ConfigurationError, match="markets_config is missing"):
        load_scenario(tmp_path, "example")


def test_quarter_hour_demand_is_averaged(tmp_path):
    quarters = np.datetime64("2019-01-01T00:00") + np.arange(13) * np.timedelta64(15, "m")
    lines = [
        f"{np.datetime_as_string(t, unit='m').replace('T', ' ')},{i}"
        for i, t in enumerate(quarters)
    ]
    make_scenario(tmp_path, files={"demand_df.csv": "datetime,demand1\n" + "\n".join(lines) + "\n"})
    demand = units_by_name(load_scenario(tmp_path, "example"))["demand1"]
    assert demand.series["volume"].tolist() == [-1.5, -5.5, -9.5, -12.0]


def test_operator_portfolio_strategies(tmp_path):
    make_scenario(
        tmp_path, files={"unit_operators.csv": "name,bidding_EOM\nOperator 1,portfolio\neom_de,\n"}
    )
    spec = load_scenario(tmp_path, "example")
    assert spec.operator_bidding == {"Operator 1": {"EOM": "portfolio"}, "eom_de": {}}
