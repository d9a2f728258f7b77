"""The parts of ``gibson-cli`` (``pygibson.cli`` is its entry point).

- ``commands``: reading a line into an operation and its arguments, help
  and completion, all from ``pygibson.OPERATIONS``;
- ``output``: how replies and errors are shown;
- ``session``: the client behind the prompt, with calls Ctrl-C can abandon;
- ``repl``: the interactive prompt (readline, history, completion);
- ``batch``: one-shot and pipe modes;
- ``monitor``: ``--stat`` and ``--latency``.
"""
