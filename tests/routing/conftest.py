from tests.support.schemas import crds

__all__ = ["crds"]
