from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from typing import ClassVar as _ClassVar

DESCRIPTOR: _descriptor.FileDescriptor

class Similarity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COSINE: _ClassVar[Similarity]
    INNER_PRODUCT: _ClassVar[Similarity]
    EUCLID: _ClassVar[Similarity]
COSINE: Similarity
INNER_PRODUCT: Similarity
EUCLID: Similarity
