"""The CLI's commands, one module per family; `cnnlens.cli` parses and dispatches.

``common`` holds what every command shares (reading files, the documented errors, exit
statuses), ``inspect`` reads a model's shapes (`inspect`, `check`), ``run`` runs it on
images (`predict`, `activations`), ``explain`` runs the methods (`attribute`, `maximize`)
and ``convert`` writes ONNX from other formats (`convert-tfjs`, `convert-caffe`). Each
family adds its own subcommands with `add_parsers`.
"""
