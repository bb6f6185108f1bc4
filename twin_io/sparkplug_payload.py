"""Sparkplug B payloads (Eclipse Sparkplug 3.0, ``org.eclipse.tahu.protobuf.Payload``).

Shared by the twin's edge node (``plant_sim.live.sparkplug``) and the gateway's host application
(``gateway.sparkplug_host``): ``metric()`` writes a value, ``metric_value()`` reads one back and
checks it is in the field its datatype calls for.

The message classes are built with ``protobuf`` from a descriptor written here after the
specification's payload definition (chapter 6; the field numbers of Eclipse Tahu's
``sparkplug_b.proto``), limited to what the twin sends: Payload (timestamp, metrics, seq, uuid,
body), Metric (name, alias, timestamp, datatype, flags, properties and the scalar values) and
the PropertySet/PropertyValue of a metric's properties (the twin sends ``engUnit``). Fields the
twin does not use (metadata, data sets, templates) are left out; a decoder reads
the bytes as Tahu's own would. Values go in the field Tahu's decoders read for each datatype
(e.g. UInt32 and UInt64 in ``long_value``).
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto
PACKAGE = "org.eclipse.tahu.protobuf"


class DataType(IntEnum):
    """Sparkplug B datatypes used by the twin (the spec's numbers)."""

    INT32 = 3
    INT64 = 4
    UINT32 = 7
    UINT64 = 8
    FLOAT = 9
    DOUBLE = 10
    BOOLEAN = 11
    STRING = 12
    DATETIME = 13


RECORD_METRIC = "Twin/Record"
"""Node metric (String) that carries one twin record per value: its UNS JSON payload, with the
record number ``n`` (the record's identity). The gateway stores these; the others are for SCADA."""

_VALUE_FIELD = {
    DataType.INT32: "int_value",
    DataType.INT64: "long_value",
    DataType.UINT32: "long_value",
    DataType.UINT64: "long_value",
    DataType.FLOAT: "float_value",
    DataType.DOUBLE: "double_value",
    DataType.BOOLEAN: "boolean_value",
    DataType.STRING: "string_value",
    DataType.DATETIME: "long_value",
}


def _field(name: str, number: int, ftype: int, label: int = _F.LABEL_OPTIONAL, **kw: Any) -> Any:
    return _F(name=name, number=number, type=ftype, label=label, **kw)


def _build() -> tuple[type, type]:
    property_value = descriptor_pb2.DescriptorProto(
        name="PropertyValue",
        field=[
            _field("type", 1, _F.TYPE_UINT32),
            _field("is_null", 2, _F.TYPE_BOOL),
            _field("int_value", 3, _F.TYPE_UINT32, oneof_index=0),
            _field("long_value", 4, _F.TYPE_UINT64, oneof_index=0),
            _field("float_value", 5, _F.TYPE_FLOAT, oneof_index=0),
            _field("double_value", 6, _F.TYPE_DOUBLE, oneof_index=0),
            _field("boolean_value", 7, _F.TYPE_BOOL, oneof_index=0),
            _field("string_value", 8, _F.TYPE_STRING, oneof_index=0),
        ],
        oneof_decl=[descriptor_pb2.OneofDescriptorProto(name="value")],
    )
    property_set = descriptor_pb2.DescriptorProto(
        name="PropertySet",
        field=[
            _field("keys", 1, _F.TYPE_STRING, _F.LABEL_REPEATED),
            _field(
                "values",
                2,
                _F.TYPE_MESSAGE,
                _F.LABEL_REPEATED,
                type_name=f".{PACKAGE}.Payload.PropertyValue",
            ),
        ],
    )
    metric = descriptor_pb2.DescriptorProto(
        name="Metric",
        field=[
            _field("name", 1, _F.TYPE_STRING),
            _field("alias", 2, _F.TYPE_UINT64),
            _field("timestamp", 3, _F.TYPE_UINT64),
            _field("datatype", 4, _F.TYPE_UINT32),
            _field("is_historical", 5, _F.TYPE_BOOL),
            _field("is_transient", 6, _F.TYPE_BOOL),
            _field("is_null", 7, _F.TYPE_BOOL),
            _field("properties", 9, _F.TYPE_MESSAGE, type_name=f".{PACKAGE}.Payload.PropertySet"),
            _field("int_value", 10, _F.TYPE_UINT32, oneof_index=0),
            _field("long_value", 11, _F.TYPE_UINT64, oneof_index=0),
            _field("float_value", 12, _F.TYPE_FLOAT, oneof_index=0),
            _field("double_value", 13, _F.TYPE_DOUBLE, oneof_index=0),
            _field("boolean_value", 14, _F.TYPE_BOOL, oneof_index=0),
            _field("string_value", 15, _F.TYPE_STRING, oneof_index=0),
            _field("bytes_value", 16, _F.TYPE_BYTES, oneof_index=0),
        ],
        oneof_decl=[descriptor_pb2.OneofDescriptorProto(name="value")],
    )
    payload = descriptor_pb2.DescriptorProto(
        name="Payload",
        field=[
            _field("timestamp", 1, _F.TYPE_UINT64),
            _field(
                "metrics",
                2,
                _F.TYPE_MESSAGE,
                _F.LABEL_REPEATED,
                type_name=f".{PACKAGE}.Payload.Metric",
            ),
            _field("seq", 3, _F.TYPE_UINT64),
            _field("uuid", 4, _F.TYPE_STRING),
            _field("body", 5, _F.TYPE_BYTES),
        ],
        nested_type=[property_value, property_set, metric],
    )
    proto = descriptor_pb2.FileDescriptorProto(
        name="twin_sparkplug_b.proto", package=PACKAGE, syntax="proto2", message_type=[payload]
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    payload_desc = pool.FindMessageTypeByName(f"{PACKAGE}.Payload")
    return (
        message_factory.GetMessageClass(payload_desc),
        message_factory.GetMessageClass(payload_desc.nested_types_by_name["Metric"]),
    )


Payload, Metric = _build()


def metric(
    alias: int,
    datatype: DataType,
    value: Any,
    timestamp_ms: int,
    name: str | None = None,
    unit: str | None = None,
) -> Any:
    """A Metric: with ``name`` (births) it carries name, alias, datatype and, with ``unit``, the
    property ``engUnit`` (String); without (data), the alias only. The value goes in the field
    Tahu's decoders read for ``datatype``."""
    m = Metric(alias=alias, timestamp=timestamp_ms)
    if name is not None:
        m.name = name
        m.datatype = int(datatype)
        if unit is not None:
            m.properties.keys.append("engUnit")
            m.properties.values.add(type=int(DataType.STRING), string_value=unit)
    if value is None:
        m.is_null = True
    elif datatype == DataType.INT32:
        m.int_value = int(value) & 0xFFFFFFFF  # two's complement, as Tahu writes it
    elif datatype == DataType.INT64:
        m.long_value = int(value) & 0xFFFFFFFFFFFFFFFF
    else:
        setattr(m, _VALUE_FIELD[datatype], value)
    return m


_INTEGER_FIELDS = frozenset({"int_value", "long_value"})
VALUE_FIELDS: dict[int, frozenset[str]] = {
    **dict.fromkeys((1, 2, 3, 4, 5, 6, 7, 8, 13), _INTEGER_FIELDS),  # Int8..UInt64, DateTime
    9: frozenset({"float_value"}),
    10: frozenset({"double_value"}),
    11: frozenset({"boolean_value"}),
    12: frozenset({"string_value"}),  # String
    14: frozenset({"string_value"}),  # Text
    15: frozenset({"string_value"}),  # UUID
    17: frozenset({"bytes_value"}),  # Bytes
    18: frozenset({"bytes_value"}),  # File
}
"""Sparkplug 3.0 datatype number -> the value fields a metric of that type may use (integers:
either, as implementations differ; Tahu's JavaScript writes UInt32 in ``long_value``)."""


class MetricTypeError(ValueError):
    """A metric whose value is not in a field its datatype allows."""


def metric_value(m: Any, datatype: int) -> Any:
    """Return the value of a decoded metric of ``datatype`` (``None`` when null).

    Raises ``MetricTypeError`` when the value sits in a field of another type, or the datatype
    is one this codec does not read (data sets, templates).
    """
    if m.is_null:
        return None
    allowed = VALUE_FIELDS.get(datatype)
    if allowed is None:
        raise MetricTypeError(f"datatype {datatype} is not a scalar type this host reads")
    field_name = m.WhichOneof("value")
    if field_name is None:
        return None
    if field_name not in allowed:
        raise MetricTypeError(
            f"carries {field_name}, its datatype {datatype} needs {sorted(allowed)}"
        )
    return getattr(m, field_name)
