"""The five programs, one thin module each: parse the program's flags (its FLAGS), call the
library, print what it made. setup.cfg's console scripts are the list of programs: each
starts `console.main`, which quiets TensorFlow's start-up and runs the module its name says
(dcgan-train -> programs/train.py, dcgan-eval -> programs/eval.py, ...).

- `cli`: how every program parses its flags and reports an error (one line, an exit code).
- `console`: the console scripts' entry point; TensorFlow started quietly.

The library never imports these modules.
"""
