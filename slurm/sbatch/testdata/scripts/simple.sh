#!/bin/bash
#SBATCH --job-name=hello
#SBATCH --partition=debug
#SBATCH --account=climate-ca
#SBATCH --nodes=1
#SBATCH --ntasks=1
#SBATCH --time=00:10:00
#SBATCH --output=hello_%j.out

echo "Hello from $(hostname)"
