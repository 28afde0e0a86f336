from rec_core.protos import module_pb2 as _module_pb2
from rec_core.protos import simi_pb2 as _simi_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RocketLaunching(_message.Message):
    __slots__ = ("share_mlp", "booster_mlp", "light_mlp", "l2_regularization", "feature_based_distillation", "feature_distillation_function")
    SHARE_MLP_FIELD_NUMBER: _ClassVar[int]
    BOOSTER_MLP_FIELD_NUMBER: _ClassVar[int]
    LIGHT_MLP_FIELD_NUMBER: _ClassVar[int]
    L2_REGULARIZATION_FIELD_NUMBER: _ClassVar[int]
    FEATURE_BASED_DISTILLATION_FIELD_NUMBER: _ClassVar[int]
    FEATURE_DISTILLATION_FUNCTION_FIELD_NUMBER: _ClassVar[int]
    share_mlp: _module_pb2.MLP
    booster_mlp: _module_pb2.MLP
    light_mlp: _module_pb2.MLP
    l2_regularization: float
    feature_based_distillation: bool
    feature_distillation_function: _simi_pb2.Similarity
    def __init__(self, share_mlp: _Optional[_Union[_module_pb2.MLP, _Mapping]] = ..., booster_mlp: _Optional[_Union[_module_pb2.MLP, _Mapping]] = ..., light_mlp: _Optional[_Union[_module_pb2.MLP, _Mapping]] = ..., l2_regularization: _Optional[float] = ..., feature_based_distillation: _Optional[bool] = ..., feature_distillation_function: _Optional[_Union[_simi_pb2.Similarity, str]] = ...) -> None: ...
