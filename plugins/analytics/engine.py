"""Metric queries as SQL built from registered identifiers only.

A query names metrics (core's `Metric`, from `hub_metrics`), a time granularity, dimensions to
group by and conditions on those dimensions or on the period. Every table and column in the
statement comes from a metric's tortoise model (checked when the plugin registered it) and is
quoted; every value a client sent is a bound parameter, converted to the column's type first.
Aggregates run in the database: one statement per (model, time field), with each metric's own
fixed conditions inside its aggregate (`COUNT(CASE WHEN ... THEN 1 END)`) when several share it,
so a ratio of two counts over one table (a conversion rate) is one scan. Ratios are divided
here, per group, from their two parts.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Iterable

from core import HubError, validation_error
from plugins.analytics.reader import QueryTimeout, Reader

GRANULARITIES = ("day", "week", "month")
OPERATORS = ("equals", "notEquals", "isNull", "notNull", "greaterThan", "greaterThanOrEqual", "lessThan",
             "lessThanOrEqual", "inBetween", "notInBetween", "startsWith", "endsWith", "include")
PERIOD = "period"
_STRING_FIELDS = ("CharField", "TextField", "CharEnumField")
_INT_FIELDS = ("IntField", "BigIntField", "SmallIntField", "IntEnumField")
_FLOAT_FIELDS = ("FloatField", "DecimalField")


@dataclass(frozen=True)
class Condition:
    """A client's condition on a dimension (its field name) or on `period` (the time field)."""

    field: str
    operator: str
    values: tuple[Any, ...] = ()


@dataclass
class Request:
    metrics: list[Any]  # core Metric objects, ratios included
    granularity: str | None = None
    dimensions: list[str] = field(default_factory=list)
    conditions: list[Condition] = field(default_factory=list)
    combine: str = "and"  # how `conditions` join: "and" | "or"
    start: Any = None  # date | datetime | None, inclusive
    end: Any = None  # date | datetime | None, inclusive (a date: the whole day)
    limit: int = 5000


@dataclass
class Result:
    rows: list[dict[str, Any]]
    truncated: bool


class _Params:
    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.values: list[Any] = []

    def add(self, value: Any) -> str:
        self.values.append(value)
        return "?" if self.dialect == "sqlite" else f"${len(self.values)}"


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _field(model: Any, name: str) -> Any:
    return model._meta.fields_map[name]


def _column(model: Any, name: str) -> str:
    return _quote(model._meta.fields_db_projection[name])


def _kind(model: Any, name: str) -> str:
    return type(_field(model, name)).__name__


# -- values: client text -> the column's type, and back ------------------------------------------


def parse_time(value: Any, what: str) -> date | datetime:
    if isinstance(value, (date, datetime)):
        return value
    text = str(value).strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise validation_error(what, f"{text!r} is not an ISO date or date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _time_param(kind: str, moment: date | datetime, dialect: str) -> Any:
    if kind == "DateField":
        day = moment.astimezone(timezone.utc).date() if isinstance(moment, datetime) else moment
        return day.isoformat() if dialect == "sqlite" else day
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day, tzinfo=timezone.utc)
    moment = moment.astimezone(timezone.utc)
    return moment.isoformat(" ") if dialect == "sqlite" else moment


def _value_param(model: Any, name: str, value: Any, dialect: str, what: str) -> Any:
    kind = _kind(model, name)
    try:
        if kind == "UUIDField":
            parsed = uuid.UUID(str(value))
            return str(parsed) if dialect == "sqlite" else parsed
        if kind == "BooleanField":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text not in ("true", "false", "1", "0"):
                raise ValueError
            return text in ("true", "1")
        if kind in _INT_FIELDS:
            if isinstance(value, bool):
                raise ValueError
            return int(value)
        if kind in _FLOAT_FIELDS:
            number = float(value)
            if not math.isfinite(number):
                raise ValueError
            return number
        if kind in ("DatetimeField", "DateField"):
            return _time_param(kind, parse_time(value, what), dialect)
    except (TypeError, ValueError):
        raise validation_error(what, f"{value!r} is not a valid {kind.removesuffix('Field').lower()}") from None
    if isinstance(value, (dict, list)):
        raise validation_error(what, "a value must be a string, number or boolean")
    return str(value)


def _output(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "BooleanField":
        return bool(value)
    if kind == "UUIDField":
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _period_output(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (datetime, date)):
        return value.strftime("%Y-%m-%dT00:00:00Z")
    return f"{str(value)[:10]}T00:00:00Z"


# -- SQL pieces ----------------------------------------------------------------------------------


def _period_sql(model: Any, time: str, granularity: str, dialect: str) -> str:
    column = _column(model, time)
    if dialect == "postgres":
        source = f"{column} AT TIME ZONE 'UTC'" if _kind(model, time) == "DatetimeField" else column
        return f"date_trunc('{granularity}', {source})"
    # SQLite keeps datetimes as ISO text in UTC ("2024-05-01 12:00:00.123+00:00"), dates as "2024-05-01"
    if granularity == "day":
        return f"substr({column}, 1, 10)"
    if granularity == "month":
        return f"substr({column}, 1, 7) || '-01'"
    return f"date(substr({column}, 1, 10), '-6 days', 'weekday 1')"  # the Monday of its week


def _fixed_sql(model: Any, where: dict[str, Any], params: _Params, dialect: str) -> list[str]:
    """A metric's registered conditions (values from the plugin's code, still bound)."""
    parts = []
    for name, value in where.items():
        column = _column(model, name)
        negate = isinstance(value, dict)
        if negate:
            value = value["not"]
        if value is None:
            parts.append(f"{column} IS {'NOT ' if negate else ''}NULL")
        elif isinstance(value, (list, tuple, set, frozenset)):
            items = [params.add(_value_param(model, name, item, dialect, name)) for item in value]
            if not items:
                parts.append("1=1" if negate else "1=0")
            else:
                parts.append(f"{column} {'NOT ' if negate else ''}IN ({', '.join(items)})")
        else:
            parts.append(f"{column} {'<>' if negate else '='} {params.add(_value_param(model, name, value, dialect, name))}")
    return parts


def _metric_condition(metric: Any, params: _Params, dialect: str) -> str | None:
    parts = _fixed_sql(metric.model, metric.where, params, dialect)
    if metric.where_any:
        alternatives = [" AND ".join(_fixed_sql(metric.model, alternative, params, dialect)) or "1=1"
                        for alternative in metric.where_any]
        parts.append("(" + " OR ".join(f"({alternative})" for alternative in alternatives) + ")")
    return " AND ".join(parts) if parts else None


def _time_bound(model: Any, time: str, moment: Any, upper: bool, strict: bool, params: _Params,
                dialect: str) -> str:
    """`time >= moment` (or >, <, <=); a date as an upper bound takes in its whole day."""
    column = _column(model, time)
    kind = _kind(model, time)
    if upper and not isinstance(moment, datetime) and kind == "DatetimeField":
        day = moment + timedelta(days=0 if strict else 1)
        return f"{column} < {params.add(_time_param(kind, day, dialect))}"
    if not upper and not isinstance(moment, datetime) and kind == "DatetimeField" and strict:
        day = moment + timedelta(days=1)
        return f"{column} >= {params.add(_time_param(kind, day, dialect))}"
    operator = ("<" if strict else "<=") if upper else (">" if strict else ">=")
    return f"{column} {operator} {params.add(_time_param(kind, moment, dialect))}"


def _condition_sql(metric: Any, condition: Condition, params: _Params, dialect: str) -> str:
    model = metric.model
    operator, values = condition.operator, condition.values
    if condition.field == PERIOD:
        time = metric.time
        moments = [parse_time(value, "filters") for value in values]
        column = _column(model, time)
        if operator == "isNull":
            return f"{column} IS NULL"
        if operator == "notNull":
            return f"{column} IS NOT NULL"
        if operator in ("equals", "notEquals"):
            ranges = ["(" + _time_bound(model, time, moment, False, False, params, dialect) + " AND "
                      + _time_bound(model, time, moment, True, False, params, dialect) + ")" for moment in moments]
            inside = "(" + " OR ".join(ranges) + ")"
            return inside if operator == "equals" else f"NOT {inside}"
        if operator in ("greaterThan", "greaterThanOrEqual"):
            return _time_bound(model, time, moments[0], False, operator == "greaterThan", params, dialect)
        if operator in ("lessThan", "lessThanOrEqual"):
            return _time_bound(model, time, moments[0], True, operator == "lessThan", params, dialect)
        between = (_time_bound(model, time, moments[0], False, False, params, dialect) + " AND "
                   + _time_bound(model, time, moments[1], True, False, params, dialect))
        return f"({between})" if operator == "inBetween" else f"NOT ({between})"
    name = condition.field
    column = _column(model, name)
    if operator == "isNull":
        return f"{column} IS NULL"
    if operator == "notNull":
        return f"{column} IS NOT NULL"
    if operator in ("startsWith", "endsWith", "include"):
        if _kind(model, name) not in _STRING_FIELDS:
            raise validation_error("filters", f"{operator} applies to text dimensions, not {name!r}")
        text = str(values[0]).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").lower()
        pattern = {"startsWith": f"{text}%", "endsWith": f"%{text}", "include": f"%{text}%"}[operator]
        return f"LOWER({column}) LIKE {params.add(pattern)} ESCAPE '\\'"
    converted = [_value_param(model, name, value, dialect, "filters") for value in values]
    if operator == "equals":
        return f"{column} IN ({', '.join(params.add(value) for value in converted)})"
    if operator == "notEquals":
        return f"({column} NOT IN ({', '.join(params.add(value) for value in converted)}) OR {column} IS NULL)"
    comparisons = {"greaterThan": ">", "greaterThanOrEqual": ">=", "lessThan": "<", "lessThanOrEqual": "<="}
    if operator in comparisons:
        return f"{column} {comparisons[operator]} {params.add(converted[0])}"
    between = f"{column} >= {params.add(converted[0])} AND {column} <= {params.add(converted[1])}"
    return f"({between})" if operator == "inBetween" else f"NOT ({between})"


def _aggregate_sql(metric: Any, condition: str | None) -> str:
    model = metric.model
    if metric.aggregate == "count":
        return f"COUNT(CASE WHEN {condition} THEN 1 END)" if condition else "COUNT(*)"
    column = _column(model, metric.value)
    if metric.value_map is not None:
        whens = " ".join(f"WHEN {_literal(key)} THEN {float(number)!r}" for key, number in metric.value_map)
        column = f"(CASE {column} {whens} ELSE {'0' if metric.aggregate == 'sum' else 'NULL'} END)"
    if condition:
        column = f"CASE WHEN {condition} THEN {column} END"
    function = {"sum": "SUM", "average": "AVG", "count_distinct": "COUNT"}[metric.aggregate]
    return f"{function}(DISTINCT {column})" if metric.aggregate == "count_distinct" else f"{function}({column})"


def _literal(value: Any) -> str:
    """A value_map key as an SQL literal: registered by plugin code (never a client's), and
    still only a number or a quoted string."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise HubError("INTERNAL_ERROR", "a metric's value_map keys must be strings or numbers")
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


# -- running a request ---------------------------------------------------------------------------


def base_metrics(metrics: Iterable[Any], registry: dict[str, Any]) -> list[Any]:
    found: dict[str, Any] = {}
    for metric in metrics:
        parts = [registry[metric.numerator], registry[metric.denominator]] if metric.aggregate == "ratio" else [metric]
        for part in parts:
            found.setdefault(part.id, part)
    return list(found.values())


async def run(reader: Reader, org_id: Any, request: Request, registry: dict[str, Any]) -> Result:
    dialect = reader.dialect
    bases = base_metrics(request.metrics, registry)
    groups: dict[tuple[Any, str | None], list[Any]] = {}
    for metric in bases:
        groups.setdefault((metric.model, metric.time), []).append(metric)
    merged: dict[tuple, dict[str, Any]] = {}
    truncated = False
    for (model, time), metrics in groups.items():
        if await _periods_by_range(reader, model, time, request):
            rows, cut = await _run_periods(reader, org_id, model, time, metrics, request)
        else:
            rows, cut = await _run_group(reader, dialect, org_id, model, time, metrics, request)
        truncated = truncated or cut
        for key, values in rows:
            merged.setdefault(key, {}).update(values)
    keys = sorted(merged, key=lambda key: tuple((value is None, str(value)) for value in key))
    if request.granularity and not request.dimensions and request.start is not None and request.end is not None:
        keys = _all_periods(request, keys)
    out = []
    for key in keys:
        values = merged.get(key, {})
        row: dict[str, Any] = {}
        position = 0
        if request.granularity:
            row[PERIOD] = key[0]
            position = 1
        for name in request.dimensions:
            row[name] = key[position]
            position += 1
        for metric in request.metrics:
            row[metric.id] = _value_of(metric, values)
        out.append(row)
    if len(out) > request.limit:
        out, truncated = out[: request.limit], True
    return Result(out, truncated)


def _value_of(metric: Any, values: dict[str, Any]) -> Any:
    if metric.aggregate == "ratio":
        numerator = values.get(metric.numerator) or 0
        denominator = values.get(metric.denominator) or 0
        return float(numerator) / float(denominator) if denominator else None
    value = values.get(metric.id)
    if metric.aggregate in ("count", "count_distinct"):
        return int(value or 0)
    if metric.aggregate == "sum":
        return float(value or 0)
    return float(value) if value is not None else None


async def _periods_by_range(reader: Reader, model: Any, time: str | None, request: Request) -> bool:
    """SQLite has no hash aggregate: `GROUP BY <period>` sorts every row (a million-row sort is
    most of a second). A time series without dimensions over a table with an index on (org_id,
    time) is cheaper as one range aggregate per period, each an index range scan, no sort."""
    if reader.dialect != "sqlite" or not request.granularity or request.dimensions or time is None:
        return False
    columns = [model._meta.fields_db_projection["org_id"], model._meta.fields_db_projection[time]]
    return await reader.has_index(model._meta.db_table, columns)


async def _bounds(reader: Reader, org_id: Any, model: Any, time: str, request: Request) -> tuple[Any, Any] | None:
    start, end = request.start, request.end
    if start is None or end is None:
        column, table = _column(model, time), _quote(model._meta.db_table)
        first, last = (await reader.fetch(
            f"SELECT MIN({column}), MAX({column}) FROM {table} WHERE {_column(model, 'org_id')} = ?", [str(org_id)]))[0]
        if first is None:
            return None
        start = start if start is not None else parse_time(str(first)[:10], "from")
        end = end if end is not None else parse_time(str(last)[:10], "to")
    return start, end


async def _run_periods(reader: Reader, org_id: Any, model: Any, time: str, metrics: list[Any],
                       request: Request) -> tuple[list[tuple[tuple, dict[str, Any]]], bool]:
    bounds = await _bounds(reader, org_id, model, time, request)
    if bounds is None:
        return [], False
    day = _period_start(bounds[0], request.granularity)
    last = _period_start(bounds[1], request.granularity)
    params = _Params("sqlite")
    kind = _kind(model, time)
    periods = []
    while day <= last and len(periods) <= request.limit:
        following = _next_period(day, request.granularity)
        periods.append(f"({params.add(day.isoformat())}, {params.add(_time_param(kind, day, 'sqlite'))}, "
                       f"{params.add(_time_param(kind, following, 'sqlite'))})")
        day = following
    if not periods:
        return [], False
    column, table = _column(model, time), _quote(model._meta.db_table)

    def scope(metric: Any | None) -> str:
        # built in text order: SQLite numbers the `?` by their place
        where = [f"{_column(model, 'org_id')} = {params.add(str(org_id))}", f"{column} >= p.lo", f"{column} < p.hi"]
        if request.start is not None:
            where.append(_time_bound(model, time, request.start, False, False, params, "sqlite"))
        if request.end is not None:
            where.append(_time_bound(model, time, request.end, True, False, params, "sqlite"))
        extra = _metric_condition(metric, params, "sqlite") if metric is not None else None
        if extra:
            where.append(extra)
        if request.conditions:
            parts = [_condition_sql(metrics[0], condition, params, "sqlite") for condition in request.conditions]
            where.append("(" + f" {request.combine.upper()} ".join(parts) + ")")
        return " AND ".join(where)

    select = ["p.k"]
    for metric in metrics:
        select.append(f"(SELECT {_aggregate_sql(metric, None)} FROM {table} WHERE {scope(metric)})")
    select.append(f"EXISTS (SELECT 1 FROM {table} WHERE {scope(None)})")  # a period with no row at all
    sql = (f"WITH p(k, lo, hi) AS (VALUES {', '.join(periods)}) SELECT {', '.join(select)} FROM p ORDER BY p.k")
    try:
        rows = await reader.fetch(sql, params.values)
    except QueryTimeout:
        raise HubError("ANALYTICS_QUERY_TIMEOUT", "The metric query took longer than the statement timeout",
                       {"metrics": [metric.id for metric in request.metrics]}) from None
    out = [((_period_output(row[0]),), {metric.id: row[1 + index] for index, metric in enumerate(metrics)})
           for row in rows if row[-1]]
    return out[: request.limit], len(out) > request.limit


async def _run_group(reader: Reader, dialect: str, org_id: Any, model: Any, time: str | None, metrics: list[Any],
                     request: Request) -> tuple[list[tuple[tuple, dict[str, Any]]], bool]:
    params = _Params(dialect)
    select: list[str] = []
    if request.granularity:
        select.append(_period_sql(model, time, request.granularity, dialect))
    select.extend(_column(model, name) for name in request.dimensions)
    keys = len(select)
    # the same metric conditions for every aggregate (one metric, or a ratio's parts that agree):
    # in WHERE, where an index can serve them; otherwise inside each aggregate. The aggregates'
    # parameters come first: SQLite's `?` are numbered by their place in the text.
    shared = len({(tuple(sorted(map(repr, m.where.items()))), repr(m.where_any)) for m in metrics}) == 1
    for metric in metrics:
        select.append(_aggregate_sql(metric, None if shared else _metric_condition(metric, params, dialect)))
    where = [f"{_column(model, 'org_id')} = {params.add(str(org_id) if dialect == 'sqlite' else uuid.UUID(str(org_id)))}"]
    if time is not None and request.start is not None:
        where.append(_time_bound(model, time, request.start, False, False, params, dialect))
    if time is not None and request.end is not None:
        where.append(_time_bound(model, time, request.end, True, False, params, dialect))
    if shared:
        condition = _metric_condition(metrics[0], params, dialect)
        if condition:
            where.append(condition)
    if request.conditions:
        parts = [_condition_sql(metrics[0], condition, params, dialect) for condition in request.conditions]
        where.append("(" + f" {request.combine.upper()} ".join(parts) + ")")
    sql = f"SELECT {', '.join(select)} FROM {_quote(model._meta.db_table)} WHERE {' AND '.join(where)}"
    if keys:
        positions = ", ".join(str(index) for index in range(1, keys + 1))
        sql += f" GROUP BY {positions} ORDER BY {positions}"
    sql += f" LIMIT {int(request.limit) + 1}"
    try:
        rows = await reader.fetch(sql, params.values)
    except QueryTimeout:
        raise HubError("ANALYTICS_QUERY_TIMEOUT", "The metric query took longer than the statement timeout",
                       {"metrics": [metric.id for metric in request.metrics]}) from None
    kinds = [_kind(model, name) for name in request.dimensions]
    out = []
    for row in rows[: request.limit]:
        key: list[Any] = []
        position = 0
        if request.granularity:
            key.append(_period_output(row[0]))
            position = 1
        for kind in kinds:
            key.append(_output(kind, row[position]))
            position += 1
        out.append((tuple(key), {metric.id: row[keys + index] for index, metric in enumerate(metrics)}))
    return out, len(rows) > request.limit


def _period_start(moment: Any, granularity: str) -> date:
    day = moment.astimezone(timezone.utc).date() if isinstance(moment, datetime) else moment
    if granularity == "week":
        return day - timedelta(days=day.weekday())
    if granularity == "month":
        return day.replace(day=1)
    return day


def _next_period(day: date, granularity: str) -> date:
    if granularity == "day":
        return day + timedelta(days=1)
    if granularity == "week":
        return day + timedelta(days=7)
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _all_periods(request: Request, keys: list[tuple]) -> list[tuple]:
    """Every period from `start` to `end`, those without rows included (a chart's empty days)."""
    day = _period_start(request.start, request.granularity)
    last = _period_start(request.end, request.granularity)
    periods = []
    while day <= last and len(periods) <= request.limit:
        periods.append((f"{day.isoformat()}T00:00:00Z",))
        day = _next_period(day, request.granularity)
    present = set(keys)
    return sorted(set(periods) | present, key=lambda key: tuple((value is None, str(value)) for value in key))
