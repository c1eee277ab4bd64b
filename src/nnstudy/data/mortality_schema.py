"""The PhysioNet 2012 data dictionary: the 37 variables and 5 descriptors, their units, the valid range of each
(measurements outside are dropped), the feature channels, and the codes the readers give parameter names."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

# The 37 time-series variables, in the order of the challenge's description (and of the feature channels).
VARIABLES = ("Albumin", "ALP", "ALT", "AST", "Bilirubin", "BUN", "Cholesterol", "Creatinine", "DiasABP", "FiO2",
             "GCS", "Glucose", "HCO3", "HCT", "HR", "K", "Lactate", "Mg", "MAP", "MechVent", "Na", "NIDiasABP",
             "NIMAP", "NISysABP", "PaCO2", "PaO2", "pH", "Platelets", "RespRate", "SaO2", "SysABP", "Temp",
             "TroponinI", "TroponinT", "Urine", "WBC", "Weight")
DESCRIPTORS = ("RecordID", "Age", "Gender", "Height", "ICUType", "Weight")
UNITS = {"Albumin": "g/dL", "ALP": "IU/L", "ALT": "IU/L", "AST": "IU/L", "Bilirubin": "mg/dL", "BUN": "mg/dL",
         "Cholesterol": "mg/dL", "Creatinine": "mg/dL", "DiasABP": "mmHg", "FiO2": "fraction", "GCS": "points",
         "Glucose": "mg/dL", "HCO3": "mmol/L", "HCT": "%", "HR": "bpm", "K": "mEq/L", "Lactate": "mmol/L",
         "Mg": "mmol/L", "MAP": "mmHg", "MechVent": "1 = ventilated", "Na": "mEq/L", "NIDiasABP": "mmHg",
         "NIMAP": "mmHg", "NISysABP": "mmHg", "PaCO2": "mmHg", "PaO2": "mmHg", "pH": "", "Platelets": "cells/nL",
         "RespRate": "breaths/min", "SaO2": "%", "SysABP": "mmHg", "Temp": "°C", "TroponinI": "μg/L",
         "TroponinT": "μg/L", "Urine": "mL", "WBC": "cells/nL", "Weight": "kg", "Age": "years", "Height": "cm"}


@dataclass(frozen=True)
class Rule:
    """The valid range of a measurement: low < x (low ≤ x when `closed`) and x ≤ high; anything else is dropped."""

    low: float
    high: float = math.inf
    closed: bool = False
    why: str = ""

    def valid(self, x: np.ndarray) -> np.ndarray:
        return _within(x, self.low, self.high, self.closed)

    def __str__(self) -> str:
        text = f"{self.low:g} {'≤' if self.closed else '<'} x"
        text += f" ≤ {self.high:g}" if self.high < math.inf else ""
        return f"{text} ({self.why})" if self.why else text


def _within(x: np.ndarray, low: Any, high: Any, closed: Any) -> np.ndarray:
    """low < x ≤ high (low ≤ x where `closed`), element-wise; the bounds may be arrays, one per element of x."""
    return np.where(closed, x >= low, x > low) & (x <= high)


# Every quantity here is positive in a living patient: zero and negative values are recording errors (a blood
# pressure of 0 is an arterial line being flushed or zeroed, Temp −17.8 °C is 0 °F converted). Exceptions and
# tighter bounds are listed; the bounds only drop values no patient can have, never merely abnormal ones.
_POSITIVE = Rule(0.0, why="zero or negative is impossible")
RULES: dict[str, Rule] = {
    **{v: _POSITIVE for v in VARIABLES},
    "Urine": Rule(0.0, closed=True, why="mL per interval; 0 is a real anuric interval"),
    "Temp": Rule(20.0, 45.0, closed=True, why="°C; 0.8..3.6, 0 and -17.8 occur, no patient lives outside this"),
    "pH": Rule(6.5, 8.0, closed=True, why="values like 1, 94 and 735 (pH × 100) occur"),
    "FiO2": Rule(0.21, 1.0, closed=True, why="a fraction: room air (0.21) to pure oxygen"),
    "SaO2": Rule(0.0, 100.0, why="a percentage"),
    "GCS": Rule(3.0, 15.0, closed=True, why="the Glasgow Coma Scale runs from 3 to 15"),
    "Weight": Rule(10.0, 350.0, closed=True, why="kg of patients aged 15 or more; 0, 0.6 and 3.4 occur"),
    # Descriptors (static): -1 means unknown; these rules turn impossible values into unknown as well.
    "Age": Rule(0.0, 120.0, closed=True, why="years; 90 stands for 90 or older"),
    "Height": Rule(100.0, 250.0, closed=True, why="cm; 1.8..17.8 and 365.8..431.8 (inches converted twice) occur"),
}
ICU_TYPES = {1: "coronary care unit", 2: "cardiac surgery recovery unit", 3: "medical ICU", 4: "surgical ICU"}
GENDERS = {0: "female", 1: "male"}
HOURS = 48                      # the challenge's records cover the first 48 h of the stay
SINCE_CAP_HOURS = 48            # hours since the last observation are capped here (= never observed), then / 48
_MINUTES = HOURS * 60           # 48:00, the latest time a record holds
_STATIC_CHANNELS = ("age", "gender_female", "gender_male", "height", "height_missing", "weight", "weight_missing",
                    *(f"icu_{t.replace(' ', '_').lower()}" for t in ICU_TYPES.values()))
FEATURES = ("step_present", *(f"value:{v}" for v in VARIABLES), *(f"mask:{v}" for v in VARIABLES),
            *(f"hours_since:{v}" for v in VARIABLES), *_STATIC_CHANNELS)
CLASSES = ("survived", "died")
LAYOUTS = ("auto", "long", "records")
LONG_HEADER = ("RecordID", "Time", "Parameter", "Value")
RECORD_HEADER = ("Time", "Parameter", "Value")
CONTENT = "physionet2012"                       # folder under <data root>/mortality: set-a.csv.gz + Outcomes-a.txt
INSTALLED_CSV, INSTALLED_OUTCOMES = "set-a.csv.gz", "Outcomes-a.txt"
SAMPLE_FILE = "mortality-sample.csv.gz"         # package files nnstudy/data/samples/..., long layout
SAMPLE_OUTCOMES = "mortality-sample-outcomes.csv.gz"
_V = len(VARIABLES)
_PARAMS = (*DESCRIPTORS[:5], *VARIABLES)       # every known parameter name; index = code (Weight once)
_CODE = {p: i for i, p in enumerate(_PARAMS)}
_WEIGHT = _CODE["Weight"]
_FIRST_VAR = len(DESCRIPTORS) - 1              # codes from here on are VARIABLES
_STATIC = ("Age", "Gender", "Height", "ICUType", "Weight")   # columns of MortalityTable.static
