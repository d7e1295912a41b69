"""The wire format between containers: JSON with explicitly registered message types.

A frame is one mango envelope (``MangoMessage``, or ``ACLMessage`` if an agent builds one)
whose content is a registered message or a JSON scalar (mango's distributed clock sends
strings and numbers). Typed values are JSON objects tagged with ``__type__``::

    {"__type__": "MangoMessage",
     "content": {"__type__": "Opening", "market_id": "EOM", "opening": 0, "closing": 3600,
                 "products": {"__type__": "ndarray", "dtype": "int64", "shape": [24, 2],
                              "data": "AAAAAAAAAAAQDgAAAAAAAA..."}},
     "meta": {"sender_id": "market_EOM", "sender_addr": ["127.0.0.1", 9010], ...}}

Every field is encoded and checked against its annotation, so a frame that decodes is a
message the receiver can use. Arrays of numbers (and an orderbook's number columns) travel
as the base64 text of their little-endian bytes, every bit kept and nothing to format or
parse per item; texts as lists. Other floats travel as JSON numbers plus the ``NaN``,
``Infinity`` and ``-Infinity`` tokens of Python's json module: a NaN price arrives as NaN
(rejecting it is the market's job, not the codec's). Decoding never unpickles or evaluates
anything, and every defect of an incoming frame raises :class:`MalformedMessage`.

Modules: :mod:`~assume.codec.frames` turns envelopes into bytes and back;
:mod:`~assume.codec.schema` registers message types and compiles their annotations, once,
into converters: :mod:`~assume.codec.values` for scalars, arrays and orderbooks,
:mod:`~assume.codec.compound` for lists, tuples, dicts and unions.
"""

from assume.codec.frames import MalformedMessage, MessageCodec, make_codec
from assume.codec.values import Array, Scalar

__all__ = ["Array", "MalformedMessage", "MessageCodec", "Scalar", "make_codec"]
