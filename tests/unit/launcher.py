"""The role's WhisperLive launcher as a plain module, for the unit tests (no WhisperLive, no torch)."""

import importlib.util
import os

LAUNCHER = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                        "roles", "whisperlive", "files", "whisperlive_launcher.py")


def load():
    """A fresh import of roles/whisperlive/files/whisperlive_launcher.py."""
    spec = importlib.util.spec_from_file_location("whisperlive_launcher", LAUNCHER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def model_dir(parent, name="tiny.en"):
    """A folder that passes the launcher's model check (the files exist, nothing loads them)."""
    folder = parent / name
    folder.mkdir()
    for filename in ("model.bin", "config.json", "tokenizer.json"):
        (folder / filename).write_text("x")
    return str(folder)
