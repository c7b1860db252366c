"""The strict base of every table of coopy.toml and the field types they share."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._+=,@-]*$"
ParamValue = StrictStr | StrictInt | StrictFloat | StrictBool
Name = Annotated[str, Field(pattern=NAME_PATTERN, max_length=200)]


class Strict(BaseModel):
    """Every table: unknown keys refused (a typo is said, not ignored), no coercion, frozen once checked."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)  # "3" is not 3: say so
