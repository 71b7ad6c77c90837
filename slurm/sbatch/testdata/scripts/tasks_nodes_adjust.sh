#!/bin/bash
#SBATCH -N 4-8 -n 2
srun ./a.out
