import json
from pathlib import Path

import pytest

VECTORS = Path(__file__).parent / "vectors"


def load_vectors(name: str):
    return json.loads((VECTORS / name).read_text())["vectors"]


@pytest.fixture(scope="session")
def wired_vectors():
    return load_vectors("wired-frames.json")
