#!/bin/bash
#SBATCH--time=5
#SBATCH-N3
srun ./a.out
