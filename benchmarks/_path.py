"""Put the repository root on sys.path so benchmark scripts run from a plain checkout."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
