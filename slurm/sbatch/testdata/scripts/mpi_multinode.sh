#!/bin/bash
#SBATCH --nodes=4
#SBATCH --ntasks-per-node=32
#SBATCH --exclusive
#SBATCH --switches=1@1:00:00
#SBATCH --constraint="ib&haswell"
#SBATCH --time=12:00:00
#SBATCH --qos=normal
#SBATCH --requeue
set -e
mpirun ./solver input.nml
